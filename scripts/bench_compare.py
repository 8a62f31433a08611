"""Compares Go benchmark medians with the C benchmark table.

Go lines look like  BenchmarkKEM/ML-KEM-768/encaps-2  29673  39934 ns/op ...
C lines look like   ML-KEM-768  encaps  29018.2  34461.1  28682.5  16938
"""
import re
import statistics
import sys
from collections import defaultdict

go_line = re.compile(r"^Benchmark(?:KEM|Signature)/(?P<alg>[^/]+)/(?P<op>[a-z]+)-\d+\s+\d+\s+(?P<ns>[\d.]+) ns/op")


def go_medians(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            m = go_line.match(line)
            if m:
                runs[(m["alg"], m["op"])].append(float(m["ns"]))
    return {k: statistics.median(v) for k, v in runs.items()}


def c_medians(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 6 and re.fullmatch(r"[\d.]+", parts[2]):
                out[(parts[0], parts[1])] = float(parts[2])
    return out


def main():
    go, c = go_medians(sys.argv[1]), c_medians(sys.argv[2])
    print(f"{'algorithm':<20} {'op':<8} {'Go ns/op':>12} {'C ns/op':>12} {'overhead':>9}")
    for key in sorted(go):
        if key in c:
            g, cc = go[key], c[key]
            print(f"{key[0]:<20} {key[1]:<8} {g:>12.0f} {cc:>12.0f} {100 * (cc - g) / g:>8.1f}%")
    trivial = [v for k, v in c.items() if k[1] == "ss_size"]
    if trivial:
        print(f"\ntrivial call through the C ABI (pqc_kem_shared_secret_size): {trivial[0]:.0f} ns")


if __name__ == "__main__":
    main()
