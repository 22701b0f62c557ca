//! A store written by an older pyusage is migrated in place when opened,
//! and keeps its rows. (PostgreSQL's migration is tested against a real
//! server, with the other PostgreSQL store tests: `tools/tests/pg/`.)

use pyusage_store::schema::{migration, VERSION_TABLE};
use pyusage_store::{Backend, Store, StoreUrl, SCHEMA_VERSION};

/// Index names of `table` in an SQLite store.
fn indexes(c: &rusqlite::Connection) -> Vec<String> {
    let mut s = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_version_1_store_is_migrated_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // A store as pyusage 0.1 (schema 1) left it, with one process.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(VERSION_TABLE).unwrap();
        c.execute_batch(&migration(Backend::Sqlite, 1).unwrap())
            .unwrap();
        c.execute_batch(
            "INSERT INTO schema_version VALUES (1, 0, 'pyusage 0.1.0');
             INSERT INTO hosts VALUES (1, 'nid001');
             INSERT INTO users VALUES (1, 1000, 'alice');
             INSERT INTO interpreters VALUES (1, 'cpython', '3.11.7');
             INSERT INTO package_sets VALUES (1, 'e3b0', 0);
             INSERT INTO processes (id, record_id, schema, host, owner, claimed_uid, claim_differs,
                 pid, ppid, exe, interpreter, start_us, end_us, ended_how, forks, sample, truncated,
                 package_set, ingested_us)
             VALUES (1, '0123456789abcdef0123456789abcdef', 2, 1, 1, 1000, 0, 42, 1, '/usr/bin/python3',
                 1, 10, 20, 'exit', 0, 1.0, 0, 1, 30);
             INSERT INTO dists VALUES (1, 'numpy');
             INSERT INTO releases VALUES (1, 1, '2.1.3');
             INSERT INTO package_set_members VALUES (1, 0, 1, NULL, 'import', NULL);
             INSERT INTO unmapped_paths VALUES (1, '/home/alice/x.py');
             INSERT INTO process_unmapped VALUES (1, 1);",
        )
        .unwrap();
        let before = indexes(&c);
        for gone in [
            "processes_owner",
            "processes_job",
            "processes_package_set",
            "package_set_members_release",
        ] {
            assert!(before.iter().any(|i| i == gone), "{gone} in {before:?}");
        }
    }
    let store = Store::open(&StoreUrl::Sqlite(path.clone())).unwrap();
    let Store::Sqlite(c) = store else {
        panic!("an SQLite store")
    };
    let version: i64 = c
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let after = indexes(&c);
    assert_eq!(
        after,
        [
            "interpreters_key",
            "jobs_job_id",
            "jobs_key",
            "process_unmapped_path",
            "processes_host_pid",
            "processes_orphans",
            "processes_start",
            "releases_key",
            "users_key",
        ],
        "indexes after migration"
    );
    let (record, pid): (String, i64) = c
        .query_row("SELECT record_id, pid FROM processes", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (record.as_str(), pid),
        ("0123456789abcdef0123456789abcdef", 42)
    );
    // Version 3: the link tables keep their rows, now without a rowid.
    let member: (i64, i64, i64, String) = c
        .query_row(
            "SELECT package_set, ord, release, via FROM package_set_members",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(member, (1, 0, 1, "import".to_owned()));
    let link: (i64, i64) = c
        .query_row("SELECT process, path FROM process_unmapped", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(link, (1, 1));
    for table in ["package_set_members", "process_unmapped"] {
        let sql: String = c
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
    }
    // Opening again changes nothing.
    drop(c);
    let Store::Sqlite(c) = Store::open(&StoreUrl::Sqlite(path)).unwrap() else {
        panic!("an SQLite store")
    };
    let applied: i64 = c
        .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, SCHEMA_VERSION);
}
