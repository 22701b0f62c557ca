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

/// A PostgreSQL store of schema 2 is migrated in place: it keeps its rows,
/// and (schema 3) its record ids and set digests compare bytes whatever the
/// database's locale, so ingest finds them the same way.
#[test]
fn a_schema_2_postgres_store_is_migrated_and_keeps_its_rows() {
    use pyusage_store::schema::{migration, VERSION_TABLE};
    use pyusage_store::{Backend, Store, StoreUrl, SCHEMA_VERSION};
    let pg = cluster_or_skip!();
    let url = pg.database("v2");
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(VERSION_TABLE).unwrap();
        for v in 1..=2 {
            c.batch_execute(&migration(Backend::Postgres, v).unwrap())
                .unwrap();
        }
        c.batch_execute(
            "INSERT INTO schema_version VALUES (1, 0, 'pyusage 0.1.0'), (2, 0, 'pyusage 0.1.0');
             INSERT INTO hosts VALUES (1, 'nid001');
             INSERT INTO users VALUES (1, 1000, 'alice');
             INSERT INTO interpreters VALUES (1, 'cpython', '3.11.7');
             INSERT INTO package_sets VALUES (1, 'e3b0', 0);
             INSERT INTO processes (id, record_id, schema, host, owner, claimed_uid, claim_differs,
                 pid, ppid, exe, interpreter, start_us, end_us, ended_how, forks, sample, truncated,
                 package_set, ingested_us)
             VALUES (1, '0123456789abcdef0123456789abcdef', 2, 1, 1, 1000, 0, 42, 1, '/usr/bin/python3',
                 1, 10, 20, 'exit', 0, 1.0, 0, 1, 30);",
        )
        .unwrap();
    }
    let collation = |c: &mut postgres::Client, table: &str, column: &str| -> Option<String> {
        c.query_one(
            "SELECT collation_name::text FROM information_schema.columns \
             WHERE table_name = $1 AND column_name = $2",
            &[&table, &column],
        )
        .unwrap()
        .get(0)
    };
    let Store::Postgres(mut c) = Store::open(&StoreUrl::Postgres(url.clone())).unwrap() else {
        panic!("a PostgreSQL store")
    };
    let version: i32 = c
        .query_one("SELECT max(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(i64::from(version), SCHEMA_VERSION);
    assert_eq!(
        collation(&mut c, "processes", "record_id").as_deref(),
        Some("C")
    );
    assert_eq!(
        collation(&mut c, "package_sets", "digest").as_deref(),
        Some("C")
    );
    let row = c
        .query_one(
            "SELECT p.record_id, p.pid, s.digest FROM processes p \
             JOIN package_sets s ON s.id = p.package_set",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, &str>(0),
            row.get::<_, i64>(1),
            row.get::<_, &str>(2)
        ),
        ("0123456789abcdef0123456789abcdef", 42, "e3b0")
    );
    // The keys stay unique.
    let again =
        c.batch_execute("INSERT INTO package_sets (id, digest, size) VALUES (2, 'e3b0', 0)");
    assert!(again.is_err(), "a second row with the same digest");
    drop(c);
    // Opening again changes nothing.
    let Store::Postgres(mut c) = Store::open(&StoreUrl::Postgres(url)).unwrap() else {
        panic!("a PostgreSQL store")
    };
    let applied: i64 = c
        .query_one("SELECT count(*) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, SCHEMA_VERSION);
}
