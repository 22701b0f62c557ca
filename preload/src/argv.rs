//! What the interpreter's command line says, parsed the way CPython parses it.

/// What the tracer needs from `python [options] [script | -c cmd | -m mod] ...`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct PyArgs<'a> {
    /// `-E` or `-I`: `PYTHON*` variables are ignored by the interpreter.
    pub ignore_env: bool,
    /// `-X dev`: development mode (debug allocator).
    pub dev_mode: bool,
    /// The program it runs (`-c`, `-m`, or a script path); `None` for an
    /// interactive interpreter or a script read from stdin (`-`).
    pub script: Option<Script<'a>>,
}

/// How the program was named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script<'a> {
    /// `-c command`.
    Command,
    /// `-m module`.
    Module(&'a [u8]),
    /// A script path, as given.
    Path(&'a [u8]),
}

/// Short options that take an argument (CPython 2.7 to 3.13).
const WITH_ARG: &[u8] = b"cmWXQ";

/// Parses CPython's argv (without `argv[0]`).
pub fn parse<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> PyArgs<'a> {
    let mut out = PyArgs::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == b"--" {
            out.script = args.next().map(Script::Path);
            break;
        }
        if arg.first() != Some(&b'-') || arg == b"-" {
            if arg != b"-" {
                out.script = Some(Script::Path(arg));
            }
            break;
        }
        if arg.starts_with(b"--") {
            if arg == b"--check-hash-based-pycs" {
                args.next();
            }
            continue;
        }
        let mut i = 1;
        while i < arg.len() {
            let opt = arg[i];
            if !WITH_ARG.contains(&opt) {
                match opt {
                    b'E' | b'I' => out.ignore_env = true,
                    _ => {}
                }
                i += 1;
                continue;
            }
            let value = if i + 1 < arg.len() {
                Some(&arg[i + 1..])
            } else {
                args.next()
            };
            match opt {
                b'c' => {
                    out.script = Some(Script::Command);
                    return out;
                }
                b'm' => {
                    out.script = value.map(Script::Module);
                    return out;
                }
                b'X' => {
                    if let Some(v) = value {
                        if v == b"dev" || v.starts_with(b"dev=") {
                            out.dev_mode = true;
                        }
                    }
                }
                _ => {}
            }
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&'static str]) -> PyArgs<'static> {
        parse(args.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn scripts_commands_modules() {
        assert_eq!(
            p(&["script.py", "-E"]).script,
            Some(Script::Path(b"script.py"))
        );
        assert!(!p(&["script.py", "-E"]).ignore_env);
        assert_eq!(p(&["-c", "pass"]).script, Some(Script::Command));
        assert_eq!(p(&["-Ic", "pass"]).script, Some(Script::Command));
        assert!(p(&["-Ic", "pass"]).ignore_env);
        assert_eq!(
            p(&["-m", "pip", "list"]).script,
            Some(Script::Module(b"pip"))
        );
        assert_eq!(p(&["-mpip"]).script, Some(Script::Module(b"pip")));
        assert_eq!(
            p(&["-W", "ignore", "x.py"]).script,
            Some(Script::Path(b"x.py"))
        );
        assert_eq!(p(&["-"]).script, None);
        assert_eq!(
            p(&["--", "-weird.py"]).script,
            Some(Script::Path(b"-weird.py"))
        );
    }

    #[test]
    fn dev_mode_in_every_spelling() {
        assert!(p(&["-X", "dev", "-c", "1"]).dev_mode);
        assert!(p(&["-Xdev"]).dev_mode);
        assert!(p(&["-EXdev"]).dev_mode && p(&["-EXdev"]).ignore_env);
        assert!(!p(&["-X", "importtime", "-c", "1"]).dev_mode);
        assert!(!p(&["-c", "-X dev"]).dev_mode);
    }
}
