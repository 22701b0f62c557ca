//! The little statistics the sections need, on weighted observations.

/// The weighted `q`-quantile (0..=1) of `(value, weight)` pairs: the smallest
/// value whose cumulative weight reaches `q` of the total. `None` when there
/// is no weight at all. (For equal weights and `q = 0.5` over an even count,
/// this is the lower of the two middle values.)
pub fn quantile(obs: &mut [(f64, f64)], q: f64) -> Option<f64> {
    let total: f64 = obs.iter().map(|o| o.1).sum();
    if total <= 0.0 {
        return None;
    }
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let goal = q.clamp(0.0, 1.0) * total;
    let mut cum = 0.0;
    for (v, w) in obs.iter() {
        cum += w;
        // A tolerance so that sums of 1/sample weights do not miss by an ulp.
        if cum >= goal - 1e-9 * total {
            return Some(*v);
        }
    }
    obs.last().map(|o| o.0)
}

/// The weighted mean of `(value, weight)` pairs.
pub fn mean(obs: &[(f64, f64)]) -> Option<f64> {
    let total: f64 = obs.iter().map(|o| o.1).sum();
    (total > 0.0).then(|| obs.iter().map(|(v, w)| v * w).sum::<f64>() / total)
}

/// What the sections say of a weighted distribution (job sizes, processes
/// per job, MPI tasks): total weight, weighted median, 90th percentile,
/// mean and largest value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Total weight.
    pub total: f64,
    /// Weight of values of at most 1 (single-node jobs).
    pub ones: f64,
    /// Weighted median ([`quantile`] 0.5).
    pub median: Option<f64>,
    /// Weighted 90th percentile.
    pub p90: Option<f64>,
    /// Weighted mean.
    pub mean: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl Summary {
    /// Summarise `(value, weight)` pairs (grouped by value first, so that
    /// sums add as a `GROUP BY value` would).
    pub fn of(obs: impl IntoIterator<Item = (f64, f64)>) -> Summary {
        let mut v = group(obs);
        Summary {
            total: v.iter().map(|o| o.1).sum(),
            ones: v.iter().filter(|o| o.0 <= 1.0).map(|o| o.1).sum(),
            mean: mean(&v),
            max: v.last().map(|o| o.0),
            median: quantile(&mut v, 0.5),
            p90: quantile(&mut v, 0.9),
        }
    }
}

/// `(value, weight)` pairs summed per value, in value order.
pub fn group(obs: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = obs.into_iter().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for (x, w) in v {
        match out.last_mut() {
            Some(last) if last.0 == x => last.1 += w,
            _ => out.push((x, w)),
        }
    }
    out
}

/// Pearson correlation of two presence indicators (the phi coefficient)
/// over `n` observations, `a` and `b` of which have each, `ab` both.
/// `None` when either is present everywhere or nowhere (no variance).
pub fn phi(n: f64, a: f64, b: f64, ab: f64) -> Option<f64> {
    let den = (a * (n - a) * b * (n - b)).sqrt();
    if den.is_nan() || den <= 1e-12 {
        return None;
    }
    Some(((n * ab - a * b) / den).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_the_cumulative_weight() {
        let mut o = vec![(4.0, 1.0), (1.0, 1.0), (2.0, 1.0), (8.0, 1.0)];
        assert_eq!(quantile(&mut o, 0.5), Some(2.0));
        assert_eq!(quantile(&mut o, 0.9), Some(8.0));
        assert_eq!(quantile(&mut o, 1.0), Some(8.0));
        let mut w = vec![(1.0, 1.0), (16.0, 3.0)];
        assert_eq!(quantile(&mut w, 0.5), Some(16.0));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(mean(&[(1.0, 1.0), (4.0, 3.0)]), Some(3.25));
    }

    #[test]
    fn summaries_group_equal_values() {
        let s = Summary::of([(4.0, 1.0), (1.0, 1.0), (4.0, 1.0), (2.0, 1.0)]);
        assert_eq!(s.total, 4.0);
        assert_eq!(s.ones, 1.0);
        assert_eq!((s.median, s.p90, s.max), (Some(2.0), Some(4.0), Some(4.0)));
        assert_eq!(s.mean, Some(2.75));
        assert_eq!(Summary::of([]).median, None);
        assert_eq!(
            group([(2.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
            [(1.0, 2.0), (2.0, 4.0)]
        );
    }

    #[test]
    fn phi_matches_pearson_on_indicators() {
        // x = 1 1 0 0, y = 1 0 0 0: r = 1/sqrt(3).
        let r = phi(4.0, 2.0, 1.0, 1.0).unwrap();
        assert!((r - 1.0 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(phi(4.0, 2.0, 2.0, 2.0), Some(1.0));
        assert_eq!(phi(4.0, 2.0, 2.0, 0.0), Some(-1.0));
        assert_eq!(phi(4.0, 4.0, 2.0, 2.0), None);
    }
}
