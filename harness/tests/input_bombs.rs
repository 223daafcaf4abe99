//! Hostile snapshots against the real `leakgate` binary: a string longer than V8 allows, in a
//! small gzipped file and endless through a pipe, must end in exit 2 with bounded memory.

mod common;

use common::leakgate;

use std::io::Write;
use std::process::Stdio;

use flate2::write::GzEncoder;
use flate2::Compression;

/// The document up to the opening quote of a string in `strings`.
const HEAD: &str = r##"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape","wasm object"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]},"node_count":2,"edge_count":1,"trace_function_count":0},
"nodes":[9,0,1,0,1,0,0,3,1,3,40,0,0,0],"edges":[2,2,7],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],"strings":["",""##;

/// V8's `String::kMaxLength` on 64-bit.
const V8_MAX_STRING: u64 = (1 << 29) - 24;

fn gzip_member(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Waits for `child` and returns its exit code and peak resident memory in bytes.
fn wait_with_peak_rss(child: std::process::Child) -> (Option<i32>, u64) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, u64::try_from(usage.ru_maxrss).unwrap() * 1024)
}

#[test]
fn a_gzipped_string_bomb_is_rejected_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.heapsnapshot.gz");
    // Concatenated gzip members: the head, then 1 MiB blocks of `a` past V8's limit.
    let block = gzip_member(&vec![b'a'; 1 << 20]);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&gzip_member(HEAD.as_bytes())).unwrap();
    for _ in 0..(V8_MAX_STRING >> 20) + 2 {
        file.write_all(&block).unwrap();
    }
    file.write_all(&gzip_member(br#"","kept"]}"#)).unwrap();
    drop(file);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 2 << 20, "the bomb is small: {size} bytes");

    let error = dir.path().join("stderr");
    let child = leakgate()
        .arg("summary")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&error).unwrap())
        .spawn()
        .unwrap();
    let (code, peak) = wait_with_peak_rss(child);
    let message = std::fs::read_to_string(&error).unwrap();
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("longer than V8's limit"), "{message}");
    eprintln!(
        "string bomb ({size} bytes gzipped): peak RSS {} MiB",
        peak >> 20
    );
    assert!(peak < 128 << 20, "peak RSS {peak} bytes");
}

#[test]
fn an_endless_string_through_a_pipe_is_rejected_with_bounded_memory() {
    let mut child = leakgate()
        .args(["summary", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let block = vec![b'a'; 1 << 20];
        let _ = stdin.write_all(HEAD.as_bytes());
        // Until leakgate gives up and the pipe breaks.
        while stdin.write_all(&block).is_ok() {}
    });
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let (code, peak) = wait_with_peak_rss(child);
    writer.join().unwrap();
    let message = reader.join().unwrap();
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("longer than V8's limit"), "{message}");
    eprintln!("endless string: peak RSS {} MiB", peak >> 20);
    assert!(peak < 128 << 20, "peak RSS {peak} bytes");
}
