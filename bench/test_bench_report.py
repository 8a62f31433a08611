"""Tests of scripts/bench_report.py: each parser against the real output
format of the step it reads, and the report's handling of missing, skipped
and malformed inputs.

    python3 -m unittest bench/test_bench_report.py
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_report  # noqa: E402

GO = """goos: linux
pkg: github.com/pqc-iiot/pqc-iiot/core/pqc
BenchmarkKEM/ML-KEM-768/encaps-2   	   30000	     30000 ns/op	    3000 B/op	       4 allocs/op
BenchmarkKEM/ML-KEM-768/encaps-2   	   30000	     10000 ns/op	    3000 B/op	       4 allocs/op
BenchmarkKEM/ML-KEM-768/encaps-2   	   30000	     20000 ns/op	    3000 B/op	       4 allocs/op
BenchmarkSignature/Falcon-512/sign-2  	    1000	    260000 ns/op
--- FAIL: BenchmarkSignature/Broken
PASS
"""

C = """pqc_iiot 0.1.0, 0.50 s per operation in 5 batches, CLOCK_MONOTONIC
ns/op and ops/s: median batch; best ns/op: fastest batch
resident memory at start: 7416 KiB (library loaded, Go runtime started)

algorithm            op                  ns/op        ops/s   best ns/op iterations
---------            --                  -----        -----   ---------- ----------
(Go export)          ss_size              60.4   16560755.1         60.2    8243000
session 64 B         pair/batch64       5000.0     200000.0       4000.0      12800
ML-KEM-768           encaps            22000.0      45454.5      21000.0      17518
Falcon-512           sign             250000.0       4000.0     240000.0       1000
"""

NODE = """libpqc_iiot 0.1.0 from /x/libpqc_iiot.so; node v20
┌─────────┬───────────────────────────┬────────────────────────────────────────────┬─────────┬─────────────────────┬─────────────────┐
│ (index) │ way                       │ call                                       │ µs/call │ main thread µs/call │ note            │
├─────────┼───────────────────────────┼────────────────────────────────────────────┼─────────┼─────────────────────┼─────────────────┤
│ 0       │ 'sync koffi, main thread' │ 'ML-KEM-768 encapsulate'                   │ '104.3' │ '104.4'             │ ''              │
│ 1       │ 'worker (pqc.js)'         │ "MQTT publish -> 'message' event (sealed)" │ '2452.6'│ '517.6'             │ '64 in flight'  │
└─────────┴───────────────────────────┴────────────────────────────────────────────┴─────────┴─────────────────────┴─────────────────┘
==================== error detail
┌─────────┬──────┐
│ (index) │ way  │
│ 0       │ 'x'  │
└─────────┴──────┘
"""

MQTT = """BenchmarkIntegrationMosquitto_EndToEnd64B/plain-paho-2  	   20000	  27333 ns/op	  17.78 cpu-µs/msg	  20000 msgs/s	  171 p50-µs	  578 p99-µs
BenchmarkIntegrationMosquitto_EndToEnd64B/session-codec-2  	   20000	  69390 ns/op	  38.43 cpu-µs/msg	  13000 msgs/s	  700 p50-µs	  6000 p99-µs
BenchmarkIntegrationMosquitto_EndToEnd64B/session-codec-2  	   20000	  69390 ns/op	  38.43 cpu-µs/msg	  14000 msgs/s	  755 p50-µs	  6370 p99-µs
BenchmarkIntegrationMosquitto_EndToEnd64B/session-codec-2  	   20000	  69390 ns/op	  38.43 cpu-µs/msg	  15000 msgs/s	  800 p50-µs	  7000 p99-µs

mode (medians)                 msgs/s   vs plain    p50 µs    p99 µs  cpu µs/msg
plain-paho                      20000      1.00x        171        578         17.8
BenchmarkFanout64/sessions/N=1-2   	  339866	  3876 ns/op	  150.0 down-B/msg
"""


def write(d: Path, **files: str) -> None:
    for name, text in files.items():
        (d / name.replace("_", ".", 1)).write_text(text)


class Parsers(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_go_metrics_takes_the_median_and_ignores_other_lines(self) -> None:
        write(self.d, go_txt=GO)
        got = bench_report.go_metrics(self.d / "go.txt")
        self.assertEqual(got["BenchmarkKEM/ML-KEM-768/encaps"]["ns/op"], 20000)
        self.assertEqual(got["BenchmarkSignature/Falcon-512/sign"]["ns/op"], 260000)
        self.assertEqual(len(got), 2)

    def test_abi_table_rows_with_spaces_in_the_name(self) -> None:
        cases = {
            ("(Go export)", "ss_size"): 60.4,
            ("session 64 B", "pair/batch64"): 5000.0,
            ("ML-KEM-768", "encaps"): 22000.0,
        }
        write(self.d, c_txt=C)
        got = bench_report.abi_table(self.d / "c.txt")
        for key, want in cases.items():
            with self.subTest(key=key):
                self.assertEqual(got[key], want)
        self.assertNotIn(("algorithm", "op"), got)
        self.assertEqual(len(got), 4)

    def test_node_table_first_table_only_and_both_quote_styles(self) -> None:
        write(self.d, node_txt=NODE)
        rows = bench_report.node_table(self.d / "node.txt")
        self.assertEqual([r["call"] for r in rows],
                         ["ML-KEM-768 encapsulate", "MQTT publish -> 'message' event (sealed)"])
        self.assertEqual(rows[1]["µs/call"], "2452.6")

    def test_mqtt_table(self) -> None:
        write(self.d, mqtt_txt=MQTT)
        rows = bench_report.mqtt_table(self.d / "mqtt.txt")
        self.assertEqual([(r["mode"], r["ratio"], r["p50"]) for r in rows],
                         [("plain-paho", 1.0, 171), ("session-codec", 0.7, 755)])

    def test_truncated_inputs_give_no_rows_rather_than_wrong_ones(self) -> None:
        cases = {
            "go": (GO.splitlines()[2][:40], bench_report.go_metrics),
            "c": ("ML-KEM-768           encaps            22000.0", bench_report.abi_table),
            "mqtt": ("mode  msgs/s\nplain-paho 20000 1.00x\n" + MQTT.splitlines()[0][:60], bench_report.mqtt_table),
        }
        for name, (text, parse) in cases.items():
            with self.subTest(name=name):
                (self.d / f"{name}.txt").write_text(text + "\n")
                self.assertFalse(parse(self.d / f"{name}.txt"))


class Report(unittest.TestCase):
    def run_report(self, d: Path) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = sys.argv
        sys.argv = ["bench_report.py", str(d)]
        try:
            with redirect_stdout(out), redirect_stderr(err):
                status = bench_report.main()
        finally:
            sys.argv = argv
        return status, out.getvalue(), err.getvalue()

    def test_required_inputs_missing(self) -> None:
        for present in ({}, {"go_txt": GO}, {"c_txt": C}):
            with self.subTest(present=list(present)), tempfile.TemporaryDirectory() as t:
                write(Path(t), **present)
                status, _, err = self.run_report(Path(t))
                self.assertEqual(status, 1)
                self.assertIn("is missing", err)

    def test_rows_ratios_and_not_measured(self) -> None:
        with tempfile.TemporaryDirectory() as t:
            d = Path(t)
            write(d, go_txt=GO, c_txt=C, node_txt=NODE, mqtt_txt=MQTT,
                  coap_skip="./core/coap has no BenchmarkCoAP yet\n",
                  python_skip="failed (exit 1): boom\n")
            status, out, _ = self.run_report(d)
            self.assertEqual(status, 0)
            doc = json.loads((d / "results.json").read_text())
        rows = {(r["area"], r["item"], r["op"]): r for r in doc["rows"]}
        # Operation rows show the fastest repeat (Go 10,000 ns of three
        # runs; C's "best ns/op" column), Node.js its median.
        kem = rows[("KEM", "ML-KEM-768", "encaps")]
        self.assertEqual((kem["go"], kem["c"], kem["node"]), (10.0, 21.0, 104.3))
        self.assertIn("C 2.10x", kem["ratio"])
        self.assertEqual(rows[("MQTT e2e", "session-codec", "64 B QoS 1")]["ratio"], "0.70x plain")
        missing = {(r["area"], r["note"]) for r in doc["rows"] if not r["measured"]}
        self.assertIn(("CoAP", "not measured: ./core/coap has no BenchmarkCoAP yet"), missing)
        self.assertIn(("Python", "not measured: failed (exit 1): boom"), missing)
        self.assertIn("not measured: ./core/coap has no BenchmarkCoAP yet", out)
        self.assertEqual(rows[("footprint", "C process after loading the library", "VmRSS")]["c"], 7416 / 1024)


if __name__ == "__main__":
    unittest.main()
