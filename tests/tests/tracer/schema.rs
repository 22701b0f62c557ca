//! `docs/record.schema.json` itself: it compiles, matches the field table of
//! `docs/record.md`, accepts the records that document describes and rejects
//! what it rules out. Needs no build of the tracer.

use pyusage_tests::{artifacts::repo_root, format_unix, validate};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn example() -> Value {
    json!({
        "schema": 1,
        "id": "0123456789abcdef0123456789abcdef",
        "pid": 4242, "ppid": 1, "uid": 1000,
        "user": "alice",
        "host": "node001",
        "exe": "/usr/bin/python3.11",
        "script": "train.py",
        "python": {"version": "3.11.7", "implementation": "cpython", "prefix": "/usr"},
        "start": "2026-11-26T06:30:00.123456Z",
        "end": "2026-11-26T06:31:00.000001Z",
        "ended": {"how": "exit", "status": 0, "signal": null},
        "job": {"scheduler": "slurm", "id": "42", "step": "0", "cluster": "c1",
                "nodes": 2, "tasks": 4, "rank": 0},
        "packages": [
            {"name": "numpy", "version": "2.1.0", "via": "extension", "env": "/opt/venv"},
            {"name": "six", "version": "1.17.0", "via": "import", "env": null}
        ],
        "unmapped": ["/home/alice/src/mylib"],
        "native": {"cuda": ["libcudart.so.12"], "mpi": [], "blas": ["libopenblas.so.0"]},
        "forked_from": null,
        "forks": 0,
        "sample": 1.0,
        "truncated": false
    })
}

/// The same record in schema 2: `notebook`, `packages[].by`/`at_ms`, and
/// `job.partition`/`gpus`/`cpus_per_task` added.
fn example2() -> Value {
    let mut v = example();
    v["schema"] = json!(2);
    v["notebook"] = json!(null);
    v["job"]["partition"] = json!("gpu");
    v["job"]["gpus"] = json!(4);
    v["job"]["cpus_per_task"] = json!(8);
    v["packages"][0]["by"] = json!(null);
    v["packages"][0]["at_ms"] = json!(120);
    v["packages"][1]["by"] = json!("numpy");
    v["packages"][1]["at_ms"] = json!(null);
    v
}

fn adding(mut v: Value, pointer: &str, key: &str, new: Value) -> Value {
    v.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object {pointer} in example"))
        .insert(key.to_owned(), new);
    v
}

fn without_at(mut v: Value, pointer: &str, key: &str) -> Value {
    v.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object {pointer} in example"))
        .remove(key)
        .expect("key exists");
    v
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in example")) = new;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key).expect("key exists");
    v
}

#[test]
fn documented_example_is_valid() {
    validate(&example()).unwrap();
}

#[test]
fn schema_2_example_is_valid() {
    validate(&example2()).unwrap();
    let mut v = example2();
    v["notebook"] = json!("/home/alice/analysis.ipynb");
    v["script"] = json!("-m ipykernel_launcher");
    v["job"] = json!({"scheduler": "mpi", "id": null, "step": null, "cluster": null,
                      "nodes": null, "tasks": 4, "rank": 2,
                      "partition": null, "gpus": null, "cpus_per_task": null});
    validate(&v).unwrap();
    validate(&with(example2(), "/job", Value::Null)).unwrap();
    validate(&with(example2(), "/packages", json!([]))).unwrap();
}

#[test]
fn nullable_fields_accept_null() {
    let mut v = example();
    for p in [
        "/user",
        "/script",
        "/python/prefix",
        "/job",
        "/ended/status",
        "/forked_from",
    ] {
        v = with(v, p, Value::Null);
    }
    validate(&v).unwrap();
    let v = with(
        example(),
        "/job",
        json!({"scheduler": "mpi", "id": null, "step": null, "cluster": null,
               "nodes": null, "tasks": 8, "rank": 3}),
    );
    validate(&v).unwrap();
}

#[test]
fn every_ending_is_accepted() {
    for (how, status, signal) in [
        ("exit", json!(3), json!(null)),
        ("_exit", json!(7), json!(null)),
        ("exec", json!(null), json!(null)),
        ("signal", json!(null), json!(15)),
        ("vanished", json!(null), json!(null)),
    ] {
        let v = with(
            example(),
            "/ended",
            json!({"how": how, "status": status, "signal": signal}),
        );
        validate(&v).unwrap_or_else(|e| panic!("{how}: {e}"));
    }
}

#[test]
fn rejects_what_record_md_rules_out() {
    let mut extra = example();
    extra["environment"] = json!({"PATH": "/bin"});
    let mut nested_extra = example();
    nested_extra["python"]["compiler"] = json!("gcc");
    let mut pkg_extra = example();
    pkg_extra["packages"][0]["path"] = json!("/x");
    let cases: Vec<(&str, Value)> = vec![
        ("a field record.md does not define", extra),
        ("an extra field in python", nested_extra),
        ("an extra field in a package", pkg_extra),
        ("schema 3", with(example(), "/schema", json!(3))),
        (
            "schema 1 with a schema 2 package field",
            adding(example(), "/packages/0", "by", json!("pandas")),
        ),
        (
            "schema 1 with a schema 2 job field",
            adding(example(), "/job", "gpus", json!(4)),
        ),
        (
            "schema 1 with notebook",
            adding(example(), "", "notebook", json!("a.ipynb")),
        ),
        (
            "schema 2 without the schema 2 package fields",
            with(example(), "/schema", json!(2)),
        ),
        (
            "schema 2 package without at_ms",
            without_at(example2(), "/packages/0", "at_ms"),
        ),
        (
            "schema 2 job without partition",
            without_at(example2(), "/job", "partition"),
        ),
        ("schema 2 without notebook", without(example2(), "notebook")),
        (
            "schema 2 with negative at_ms",
            with(example2(), "/packages/0/at_ms", json!(-1)),
        ),
        (
            "schema 2 with empty by",
            with(example2(), "/packages/0/by", json!("")),
        ),
        (
            "schema 2 with gpus as string",
            with(example2(), "/job/gpus", json!("4")),
        ),
        ("short id", with(example(), "/id", json!("0123"))),
        (
            "upper-case id",
            with(example(), "/id", json!("0123456789ABCDEF0123456789ABCDEF")),
        ),
        ("string pid", with(example(), "/pid", json!("4242"))),
        (
            "unknown ending",
            with(example(), "/ended/how", json!("crashed")),
        ),
        (
            "time without microseconds",
            with(example(), "/start", json!("2026-11-26T06:30:00Z")),
        ),
        (
            "time with offset",
            with(example(), "/end", json!("2026-11-26T06:30:00.123456+01:00")),
        ),
        (
            "unknown via",
            with(example(), "/packages/0/via", json!("guess")),
        ),
        (
            "package without version key",
            with(
                example(),
                "/packages/0",
                json!({"name": "x", "via": "import", "env": null}),
            ),
        ),
        (
            "unknown scheduler",
            with(example(), "/job/scheduler", json!("pbs")),
        ),
        (
            "native path, not file name",
            with(
                example(),
                "/native/cuda/0",
                json!("/usr/lib/libcudart.so.12"),
            ),
        ),
        (
            "native without blas",
            with(example(), "/native", json!({"cuda": [], "mpi": []})),
        ),
        ("forks negative", with(example(), "/forks", json!(-1))),
        ("sample zero", with(example(), "/sample", json!(0))),
        ("sample above one", with(example(), "/sample", json!(1.5))),
        ("truncated as int", with(example(), "/truncated", json!(0))),
        (
            "unmapped non-string",
            with(example(), "/unmapped/0", json!(5)),
        ),
        ("missing ended", without(example(), "ended")),
        ("missing packages", without(example(), "packages")),
        ("missing forks", without(example(), "forks")),
    ];
    for (what, v) in cases {
        assert!(
            validate(&v).is_err(),
            "schema accepts a record with {what}:\n{v:#}"
        );
    }
}

/// Field names in the first column of the table in docs/record.md.
fn documented_fields() -> BTreeSet<String> {
    let md = std::fs::read_to_string(repo_root().join("docs/record.md")).unwrap();
    let mut out = BTreeSet::new();
    for line in md.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let first_cell = format!("`{}", rest.split(" |").next().unwrap());
        for (i, part) in first_cell.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.to_owned());
            }
        }
    }
    out
}

#[test]
fn schema_fields_match_record_md() {
    let text = std::fs::read_to_string(repo_root().join("docs/record.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let props: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // Schema 1's fields are required of every record; the top-level fields
    // schema 2 added are required when `schema` is 2.
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .chain(schema["allOf"][0]["then"]["required"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let documented = documented_fields();
    assert!(
        documented.len() > 10,
        "could not read the field table of docs/record.md"
    );
    assert_eq!(
        props, documented,
        "schema properties vs docs/record.md table"
    );
    assert_eq!(
        required, documented,
        "schema `required` vs docs/record.md table"
    );
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(
        schema["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
}

#[test]
fn harness_formats_times_like_records() {
    assert_eq!(format_unix(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        format_unix(1_795_674_600, 123_456),
        "2026-11-26T06:30:00.123456Z"
    );
    assert_eq!(format_unix(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
    validate(&with(
        example(),
        "/start",
        format_unix(1_795_674_600, 5).into(),
    ))
    .unwrap();
}
