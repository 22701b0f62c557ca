//! The sampling decision (`sample` in the config): per job, not per process.
//!
//! With `sample = 0.01`, a job of 1,000 processes that drew one random number
//! per process would leave ~10 random records, and every job-level answer
//! (job size by package, walltime lost, which ranks ran what) would be wrong.
//! So inside a job the decision is a hash of the cluster and the job id: every
//! process of the job, on every node, decides the same way without talking to
//! any other, and the job is recorded whole or not at all. Outside any job
//! (no job id) each process draws for itself.

/// One million: `sample` is held in parts per million.
pub const PPM: u32 = 1_000_000;

/// A 64-bit hash of `cluster` and `id`: FNV-1a over both (with a separator
/// byte that cannot occur in either), finished with splitmix64's mixer so that
/// consecutive job ids spread evenly over the modulus below.
pub fn job_hash(cluster: &[u8], id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in cluster.iter().chain(&[0xff]).chain(id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Whether job `id` of `cluster` is in a sample of `ppm` parts per million.
pub fn job_sampled(cluster: &[u8], id: &[u8], ppm: u32) -> bool {
    ppm >= PPM || job_hash(cluster, id) % u64::from(PPM) < u64::from(ppm)
}

/// Whether a process outside any job, having drawn `random`, is in a sample of
/// `ppm` parts per million.
pub fn process_sampled(random: u32, ppm: u32) -> bool {
    ppm >= PPM || random % PPM < ppm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_jobs_in_proportion() {
        let ids: Vec<String> = (1..=20_000).map(|i| i.to_string()).collect();
        let taken = ids
            .iter()
            .filter(|id| job_sampled(b"c1", id.as_bytes(), 100_000))
            .count();
        // 10% of 20,000 consecutive ids; the binomial sd is ~42.
        assert!(
            (1800..2200).contains(&taken),
            "{taken} of 20000 sampled at 0.1"
        );
        assert!(ids.iter().all(|id| job_sampled(b"c1", id.as_bytes(), PPM)));
        assert!(!ids.iter().any(|id| job_sampled(b"c1", id.as_bytes(), 0)));
    }

    #[test]
    fn cluster_and_id_both_count() {
        assert_ne!(job_hash(b"c1", b"42"), job_hash(b"c2", b"42"));
        assert_ne!(job_hash(b"c1", b"42"), job_hash(b"c1", b"43"));
        assert_ne!(job_hash(b"c14", b"2"), job_hash(b"c1", b"42"));
        assert!(process_sampled(999_999, PPM) && !process_sampled(5, 5));
    }
}
