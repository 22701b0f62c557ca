//! The same store tests against a real PostgreSQL: a private cluster in a
//! temp dir (Debian's `postgresql`, which `make test` installs as root),
//! listening on a unix socket only, stopped when the test ends. PostgreSQL
//! refuses to run as root, so as root the server runs as `nobody`.

use super::*;
use pyusage_tests::postgres::Cluster;

/// Starts a cluster or skips the test, naming what is missing.
macro_rules! cluster_or_skip {
    () => {
        match Cluster::start() {
            Ok(c) => c,
            Err(why) => pyusage_tests::skip!("PostgreSQL: {why}"),
        }
    };
}

#[test]
fn postgres_store_equals_sqlite_store() {
    let pg = cluster_or_skip!();
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 1500, 77);
    if !skip_without_tracer() {
        // Real records too, when the tracer is built.
        let real = Site::new();
        real_spool(&real);
        copy_spool(&real.spool, &src);
    }
    let n = spool_files(&src).len() as u64;
    let lite = Db::Sqlite(site.tmp.path().join("u.db"));
    let post = Db::Pg(pg.database("same"));
    for db in [&lite, &post] {
        let spool = site
            .tmp
            .path()
            .join(format!("spool-{}", matches!(db, Db::Pg(_))));
        copy_spool(&src, &spool);
        let out = ingest(&site, db, &[], &[&spool]);
        out.assert_ok();
        assert_eq!(summary(&out), [n, 0, 0, 0, 0], "{out}");
        // Again: all duplicates.
        copy_spool(&src, &spool);
        let out = ingest(&site, db, &[], &[&spool]);
        assert_eq!(summary(&out), [0, 0, n, 0, 0], "{out}");
    }
    let a = dump(&lite);
    assert!(a.len() as u64 > n, "dump too small");
    assert_same(&a, &dump(&post), "SQLite vs PostgreSQL");
    // The same report query gives the same answer on both.
    let top = "SELECT d.name, CAST(SUM(c.n) AS TEXT) FROM (SELECT package_set, COUNT(*) AS n FROM processes \
               GROUP BY package_set) c JOIN package_set_members m ON m.package_set = c.package_set \
               JOIN releases r ON r.id = m.release JOIN dists d ON d.id = r.dist \
               GROUP BY d.name ORDER BY SUM(c.n) DESC, d.name LIMIT 10";
    assert_eq!(lite.rows(top), post.rows(top));
    assert!(!lite.rows(top).is_empty());
}

#[test]
fn postgres_ingests_survive_kills_and_run_concurrently() {
    let pg = cluster_or_skip!();
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 2000, 55);
    let clean = Db::Pg(pg.database("clean"));
    let spool = site.tmp.path().join("clean-spool");
    copy_spool(&src, &spool);
    let took = std::time::Instant::now();
    ingest(&site, &clean, &["--batch", "50"], &[&spool]).assert_ok();
    let took = took.elapsed();
    let want = dump(&clean);

    let killed = Db::Pg(pg.database("killed"));
    copy_spool(&src, &site.spool);
    ingest_killed(&site, &killed, &site.spool, 8, 5, took).assert_ok();
    assert!(spool_files(&site.spool).is_empty());
    assert_same(&want, &dump(&killed), "PostgreSQL killed vs clean");

    let conc = Db::Pg(pg.database("conc"));
    copy_spool(&src, &site.spool);
    let mut total = [0u64; 5];
    for o in concurrent(&site, &conc, &site.spool, 3) {
        o.assert_ok();
        for (t, v) in total.iter_mut().zip(summary(&o)) {
            *t += v;
        }
    }
    assert_eq!(total, [2000, 0, 0, 0, 0]);
    assert_same(&want, &dump(&conc), "PostgreSQL concurrent vs clean");
}
