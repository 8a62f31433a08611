"""Turns the raw outputs of scripts/bench.sh into one table, results.json
and results.png.

    python scripts/bench_report.py build/bench

Reads (each optional except go.txt and c.txt; a NAME.skip file holds the
reason a step was not measured):
  machine.txt   key value lines about the run
  go.txt        go test -bench output of core/pqc (BenchmarkKEM, BenchmarkSignature)
  session.txt   go test -bench output of core/session (ProtectUnprotect64, Handshake, SealOpen64)
  mem.txt       BenchmarkMemoryPerSession and BenchmarkMemoryPerIdleClient
  c.txt         bench/c/pqc_bench's table
  python.txt    bench/python/bench_pqc.py's table (same columns as c.txt)
  node.txt      bindings/node/bench/bench.js (console.table)
  mqtt.txt      scripts/bench-mqtt.sh (its Benchmark lines are read, its own table is not)
  coap.txt      go test -bench output of BenchmarkCoAP in core/coap
  sizes.txt     "ARCH KIND BYTES" lines

Operation costs (the KEM, signature, session and call-floor rows) are the
fastest of the repeats each step made: on a shared machine other processes
only ever add time, so the fastest repeat is the least disturbed one (the
reasoning of Python's timeit), and the Go, C and Python steps, which run
minutes apart under different load, stay comparable. Transport, memory and
Node.js figures are medians, as those benchmarks report them. Ratios are to
the Go core for the same operation (C ABI, Python, Node.js) or to the plain,
unprotected transport (MQTT, CoAP).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

LANGS = ("go", "c", "python", "node")


@dataclass
class Row:
    area: str
    item: str
    op: str
    unit: str
    go: Optional[float] = None
    c: Optional[float] = None
    python: Optional[float] = None
    node: Optional[float] = None
    ratio: str = ""
    note: str = ""
    measured: bool = True


@dataclass
class Report:
    machine: Dict[str, str] = field(default_factory=dict)
    rows: List[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def missing(self, area: str, item: str, reason: str) -> None:
        self.rows.append(Row(area, item, "", "", note=f"not measured: {reason}", measured=False))


# ---- parsers -----------------------------------------------------------------

GO_BENCH = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$")


def go_metrics(path: Path, pick: Callable[[List[float]], float] = statistics.median) -> Dict[str, Dict[str, float]]:
    """Every metric of every benchmark, keyed by name and unit, reduced over
    the repeats by pick (the median unless told otherwise)."""
    runs: Dict[str, Dict[str, List[float]]] = defaultdict(lambda: defaultdict(list))
    if not path.exists():
        return {}
    for line in path.read_text(errors="replace").splitlines():
        m = GO_BENCH.match(line)
        if not m:
            continue
        fields = m.group(3).split()
        for value, unit in zip(fields[0::2], fields[1::2]):
            try:
                runs[m.group(1)][unit].append(float(value))
            except ValueError:
                pass
    return {name: {u: pick(v) for u, v in units.items()} for name, units in runs.items()}


TABLE_ROW = re.compile(r"^(?P<alg>\S.*?)\s+(?P<op>\S+)\s+(?P<ns>[\d.]+)\s+[\d.]+\s+(?P<best>[\d.]+)\s+(?P<n>\d+)$")


def abi_table(path: Path, column: str = "ns") -> Dict[Tuple[str, str], float]:
    """(algorithm, op) -> ns/op from pqc_bench or bench_pqc.py: the median
    batch (column "ns") or the fastest ("best")."""
    out: Dict[Tuple[str, str], float] = {}
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        m = TABLE_ROW.match(line.strip())
        if m:
            out[(m["alg"], m["op"])] = float(m[column])
    return out


def node_table(path: Path) -> List[Dict[str, str]]:
    """The rows of bench.js's first console.table."""
    rows: List[Dict[str, str]] = []
    header: Optional[List[str]] = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("└") and header is not None:
            break
        if not line.startswith("│"):
            continue
        cells = [c.strip().strip("'\"") for c in line.strip("│").split("│")]
        if header is None:
            header = cells
        else:
            rows.append(dict(zip(header, cells)))
    return rows


def mqtt_table(path: Path) -> List[Dict[str, float]]:
    """One row per mode of BenchmarkIntegrationMosquitto_EndToEnd64B, read from
    the Benchmark lines bench-mqtt.sh echoes (medians when it repeats them):
    mode, msgs/s, ratio to plain paho, p50 and p99 latency, CPU per message."""
    prefix = "BenchmarkIntegrationMosquitto_EndToEnd64B/"
    runs = {k[len(prefix):]: v for k, v in go_metrics(path).items() if k.startswith(prefix)}
    plain = runs.get("plain-paho", {}).get("msgs/s")
    rows = []
    for mode, v in runs.items():
        if "msgs/s" not in v:
            continue
        rows.append({"mode": mode, "msgs/s": v["msgs/s"], "ratio": v["msgs/s"] / plain if plain else float("nan"),
                     "p50": v.get("p50-µs", float("nan")), "p99": v.get("p99-µs", float("nan")),
                     "cpu": v.get("cpu-µs/msg")})
    return rows


def kv_lines(path: Path) -> Dict[str, str]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
    return out


# ---- sections ----------------------------------------------------------------


def us(ns: Optional[float]) -> Optional[float]:
    return None if ns is None else ns / 1000.0


def ratio_text(row: Row) -> str:
    parts = []
    for lang, label in (("c", "C"), ("python", "Py"), ("node", "Node")):
        v = getattr(row, lang)
        if v is not None and row.go:
            parts.append(f"{label} {v / row.go:.2f}x")
    return " ".join(parts)


def algorithms(rep: Report, d: Path) -> None:
    go = go_metrics(d / "go.txt", pick=min)
    c, py = abi_table(d / "c.txt", "best"), abi_table(d / "python.txt", "best")
    node = {}
    if (d / "node.txt").exists():
        for r in node_table(d / "node.txt"):
            if r.get("way") == "sync koffi, main thread":
                node[r.get("call", "")] = float(r["µs/call"]) * 1000
    node_ops = {("ML-KEM-768", "encaps"): node.get("ML-KEM-768 encapsulate"),
                ("ML-DSA-65", "sign"): node.get("ML-DSA-65 sign")}
    for name in go:
        m = re.fullmatch(r"Benchmark(KEM|Signature)/(.+)/(\w+)", name)
        if not m:
            continue
        kind, alg, op = m.groups()
        row = rep.add(Row("KEM" if kind == "KEM" else "signature", alg, op, "µs/op",
                          go=us(go[name].get("ns/op")), c=us(c.get((alg, op))), python=us(py.get((alg, op))),
                          node=us(node_ops.get((alg, op)))))
        row.ratio = ratio_text(row)
        if op == "sign" and alg.startswith("Dilithium"):
            # Round-3 Dilithium signs deterministically: the rejection loop
            # runs a fixed number of times for a given key and message, and
            # the Go and C benches use different ones.
            row.note = "deterministic: time depends on key and message"
    if not py and not (d / "python.skip").exists():
        rep.missing("Python", "bench_pqc.py", "python.txt has no rows")
    floor = c.get(("(Go export)", "ss_size"))
    if floor is not None:
        row = rep.add(Row("call floor", "trivial Go export", "ss_size", "µs/call", c=us(floor),
                          node=us(node.get("pqc_kem_public_key_size (trivial Go)")),
                          note="entering and leaving the Go runtime"))
        cfloor = c.get(("(C export)", "abi_version"))
        if cfloor is not None:
            rep.add(Row("call floor", "plain C export", "abi_version", "µs/call", c=us(cfloor),
                        node=us(node.get("pqc_abi_version (plain C, no Go)")), note="no Go involved"))


def sessions(rep: Report, d: Path) -> None:
    g = go_metrics(d / "session.txt", pick=min)
    c, py = abi_table(d / "c.txt", "best"), abi_table(d / "python.txt", "best")
    pair = g.get("BenchmarkProtectUnprotect64", {})
    row = rep.add(Row("session", "64 B protect+unprotect", "pair", "µs/pair", go=us(pair.get("ns/op")),
                      c=us(c.get(("session 64 B", "pair"))), python=us(py.get(("session 64 B", "pair")))))
    row.ratio = ratio_text(row)
    if pair.get("ns/op"):
        row.note = f"Go {1e9 / pair['ns/op']:,.0f} pairs/s"
    rep.add(Row("session", "64 B protect+unprotect", "batch of 64", "µs/pair",
                c=us(c.get(("session 64 B", "pair/batch64"))), python=us(py.get(("session 64 B", "pair/batch64"))),
                note="pqc_session_protect_batch / unprotect_batch"))
    hs = g.get("BenchmarkHandshake", {})
    if hs:
        rep.add(Row("session", "handshake, both ends", "3 messages", "µs", go=us(hs.get("ns/op")),
                    note=f"{hs.get('B/op', 0) / 1024:,.0f} KiB allocated"))
    so = g.get("BenchmarkSealOpen64", {})
    if so:
        rep.add(Row("session", "64 B sealed frame", "seal+open", "µs", go=us(so.get("ns/op")),
                    note="one signature + one KEM per message"))


def memory(rep: Report, d: Path) -> None:
    g = go_metrics(d / "mem.txt")
    s = g.get("BenchmarkMemoryPerSession", {})
    if s:
        rep.add(Row("memory", "established session", "one end", "KiB", go=s["B/session-end"] / 1024,
                    note=f"{s['B/session-pair'] / 1024:.1f} KiB per pair (both ends), Go heap"))
    else:
        rep.missing("memory", "per session", "BenchmarkMemoryPerSession produced nothing")
    clients = {k.rsplit("/", 1)[-1]: v for k, v in g.items() if k.startswith("BenchmarkMemoryPerIdleClient/")}
    broker = clients.get("broker-side", {}).get("B/client")
    for mode in ("session-codec", "session-codec-queues-16", "plain-paho", "broker-side"):
        v = clients.get(mode)
        if not v:
            rep.missing("memory", f"idle MQTT client ({mode})", "BenchmarkMemoryPerIdleClient produced nothing")
            continue
        note = f"{v['goroutines/client']:.0f} goroutines; heap+stacks, embedded broker in process"
        if mode != "broker-side" and broker is not None:
            note = f"{(v['B/client'] - broker) / 1024:.0f} KiB without the broker's share; " + note
        rep.add(Row("memory", f"idle MQTT client: {mode}", "connected", "KiB", go=v["B/client"] / 1024, note=note))


NODE_CALLS = {"pqc_kem_public_key_size (trivial Go)": "trivial Go call",
              "pqc_abi_version (plain C, no Go)": "plain C call",
              "ML-KEM-768 encapsulate": "ML-KEM-768 encaps", "ML-DSA-65 sign": "ML-DSA-65 sign"}


def node_rows(rep: Report, d: Path) -> None:
    if (d / "node.skip").exists():
        rep.missing("Node.js", "bench.js", (d / "node.skip").read_text().strip())
        return
    if not (d / "node.txt").exists():
        rep.missing("Node.js", "bench.js", "no node.txt")
        return
    for r in node_table(d / "node.txt"):
        way = r.get("way", "")
        if way == "sync koffi, main thread":
            continue  # already in the algorithm and call-floor rows
        call = NODE_CALLS.get(r.get("call", ""), r.get("call", ""))
        main = r.get("main thread µs/call", "")
        notes = [f"main thread busy {main} µs/call"] if main else []
        how = r.get("note", "")
        if how in ("one at a time", "64 in flight"):
            way = f"{way}, {how}"
        elif how:
            notes.insert(0, how)
        rep.add(Row("Node.js", way, call, "µs/call", node=float(r["µs/call"]), note="; ".join(notes)))


def metric_text(unit: str, value: float) -> str:
    """A custom Go benchmark metric as prose: "p50-µs" 612 -> "p50 612 µs"."""
    m = re.fullmatch(r"(p\d+)-(.+)", unit)
    if m:
        return f"{m[1]} {value:,.0f} {m[2]}"
    return f"{value:,.0f} {unit}"


def transport(rep: Report, d: Path, name: str) -> None:
    skipped = d / f"{name}.skip"
    if skipped.exists():
        rep.missing(name.upper() if name == "mqtt" else "CoAP", "vs plain", skipped.read_text().strip())
        return
    if name == "mqtt":
        rows = mqtt_table(d / "mqtt.txt") if (d / "mqtt.txt").exists() else []
        if not rows:
            rep.missing("MQTT", "vs plain", "bench-mqtt.sh printed no table")
        for r in rows:
            cpu = f", {r['cpu']:.0f} CPU-µs/msg" if r.get("cpu") is not None else ""
            rep.add(Row("MQTT e2e", r["mode"], "64 B QoS 1", "msgs/s", go=r["msgs/s"], ratio=f"{r['ratio']:.2f}x plain",
                        note=f"p50 {r['p50']:,.0f} µs, p99 {r['p99']:,.0f} µs{cpu}; Mosquitto, 8 publishers"))
        return
    g = go_metrics(d / "coap.txt")
    modes = {k.split("/", 1)[1]: v for k, v in g.items() if k.startswith("BenchmarkCoAP/")}
    if not modes:
        rep.missing("CoAP", "vs plain", "BenchmarkCoAP printed no results")
        return
    plain = modes.get("plain", {}).get("ns/op")
    order = ("plain", "signed", "session", "oscore")
    for mode in sorted(modes, key=lambda m: (order.index(m) if m in order else len(order), m)):
        v = modes[mode]
        extra = ", ".join(metric_text(unit, val) for unit, val in v.items()
                          if unit not in ("ns/op", "B/op", "allocs/op"))
        row = rep.add(Row("CoAP", mode, "request", "µs/req", go=us(v.get("ns/op")), note=extra))
        if plain and v.get("ns/op"):
            row.ratio = f"{v['ns/op'] / plain:.2f}x plain time"
    for want in ("plain", "signed", "session", "oscore"):
        if want not in modes:
            rep.missing("CoAP", want, "no BenchmarkCoAP/" + want)


def footprint(rep: Report, d: Path) -> None:
    c_txt = d / "c.txt"
    m = re.search(r"resident memory at start: (\d+) KiB", c_txt.read_text()) if c_txt.exists() else None
    if m:
        rep.add(Row("footprint", "C process after loading the library", "VmRSS", "MiB", c=int(m[1]) / 1024,
                    note="pqc_bench at start: Go runtime started, nothing else done"))
    path = d / "sizes.txt"
    if not path.exists():
        rep.missing("footprint", "library size", "no sizes.txt")
        return
    sizes: Dict[str, Dict[str, int]] = defaultdict(dict)
    built: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        arch, kind, n, *when = line.split()
        sizes[arch][kind] = int(n)
        built[arch] = when[0] if when else "?"
    mib = 1024 * 1024
    for arch, s in sizes.items():
        rep.add(Row("footprint", f"libpqc_iiot linux/{arch}", ".so stripped", "MiB", c=s.get("so_stripped", 0) / mib,
                    note=f".so with symbols {s.get('so_unstripped', 0) / mib:.1f} MiB, "
                         f".a {s.get('archive', 0) / mib:.1f} MiB; built {built[arch]}"))
    for arch in ("arm64", "arm"):
        if arch not in sizes:
            rep.missing("footprint", f"libpqc_iiot linux/{arch}", "not cross-built (scripts/cross-build.sh)")


# ---- output ------------------------------------------------------------------


def fmt(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def print_table(rep: Report) -> None:
    m = rep.machine
    print(f"pqc-iiot benchmarks, {m.get('mode', '?')} pass, {m.get('date', '?')}: {m.get('cpu', '?')}, "
          f"{m.get('cpus', '?')} cpus, load {m.get('load', '?')} at start, {m.get('go', '')}, "
          f"{m.get('elapsed', '?')} s")
    print("Go = core package; C = C ABI (bench/c/pqc_bench); Python = ctypes binding; Node = koffi, sync on the "
          "main thread.\nKEM/signature/session/call floor: fastest of the repeats; memory, transports, Node.js: "
          "medians. Ratios: to Go for the same operation, to plain for transports.\n")
    head = ("area", "item", "op", "Go", "C", "Python", "Node", "unit", "ratio", "note")
    widths = (10, 33, 22, 9, 9, 9, 9, 8, 24, 0)

    def line(cells) -> str:
        return " ".join(f"{str(v):<{w}}" if i < 3 or i >= 7 else f"{str(v):>{w}}"
                        for i, (v, w) in enumerate(zip(cells, widths))).rstrip()

    print(line(head))
    print("-" * (sum(widths) + len(widths) + 30))
    last = None
    for r in rep.rows:
        if last is not None and r.area != last:
            print()
        last = r.area
        values = [fmt(getattr(r, lang)) if r.measured else "" for lang in LANGS]
        print(line([r.area, r.item, r.op, *values, r.unit, r.ratio, r.note]))


def chart(rep: Report, path: Path) -> Optional[str]:
    """results.png; returns why not when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib unavailable ({e})"
    algs = [r for r in rep.rows if r.area in ("KEM", "signature") and r.go]
    fig = plt.figure(figsize=(16, max(10, 0.22 * len(algs) + 2)))
    grid = fig.add_gridspec(3, 2, width_ratios=(3, 2))
    ax = fig.add_subplot(grid[:, 0])
    labels = [f"{r.item} {r.op}" for r in algs]
    ys = range(len(algs))
    h = 0.27
    for k, (lang, colour) in enumerate((("go", "#1f77b4"), ("c", "#ff7f0e"), ("python", "#2ca02c"))):
        vals = [getattr(r, lang) or 0 for r in algs]
        ax.barh([y + (k - 1) * h for y in ys], vals, height=h, label={"go": "Go", "c": "C ABI", "python": "Python"}[lang],
                color=colour)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs per operation (log scale, lower is better)")
    ax.set_title("Every scheme through Go, the C ABI and Python")
    ax.legend(loc="lower right")

    def bars(slot, rows, value, title, xlabel):
        a = fig.add_subplot(grid[slot, 1])
        if not rows:
            a.text(0.5, 0.5, "not measured", ha="center", va="center")
            a.set_axis_off()
        else:
            bars = a.barh([r.item for r in rows], [value(r) for r in rows], color="#9467bd")
            a.bar_label(bars, labels=[r.ratio or fmt(value(r)) for r in rows], fontsize=7, padding=2)
            a.margins(x=0.25)
            a.invert_yaxis()
            a.tick_params(axis="y", labelsize=8)
            a.set_xlabel(xlabel)
        a.set_title(title, fontsize=10)

    bars(0, [r for r in rep.rows if r.area == "MQTT e2e" and r.measured], lambda r: r.go,
         "MQTT end to end through Mosquitto (64 B, QoS 1)", "messages/s (higher is better)")
    coap = [r for r in rep.rows if r.area == "CoAP" and r.measured]
    bars(1, coap, lambda r: r.go, "CoAP request time", "µs per request (lower is better)")
    bars(2, [r for r in rep.rows if r.area == "memory" and r.measured], lambda r: r.go,
         "Memory: per session end, per idle MQTT client", "KiB")
    m = rep.machine
    fig.suptitle(f"pqc-iiot {m.get('mode', '')} pass, {m.get('date', '')}, {m.get('cpu', '')} x{m.get('cpus', '?')}, "
                 f"load {m.get('load', '?')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main() -> int:
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "build/bench")
    for required in ("go.txt", "c.txt"):
        if not (d / required).exists():
            print(f"bench_report: {d / required} is missing (run scripts/bench.sh)", file=sys.stderr)
            return 1
    rep = Report(machine=kv_lines(d / "machine.txt"))
    algorithms(rep, d)
    sessions(rep, d)
    memory(rep, d)
    transport(rep, d, "mqtt")
    transport(rep, d, "coap")
    node_rows(rep, d)
    footprint(rep, d)
    # Steps that were skipped or failed and have no section of their own.
    for name, area in (("session", "session"), ("mem", "memory"), ("python", "Python"), ("chart", "chart")):
        if (d / f"{name}.skip").exists():
            rep.missing(area, name, (d / f"{name}.skip").read_text().strip())
    print_table(rep)
    why = chart(rep, d / "results.png")
    doc = {"machine": rep.machine, "rows": [asdict(r) for r in rep.rows],
           "chart": None if why else "results.png"}
    (d / "results.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"\nwrote {d / 'results.json'}" + (f"; no chart: {why}" if why else f" and {d / 'results.png'}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
