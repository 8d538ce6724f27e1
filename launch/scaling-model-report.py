"""Report for launch/scaling-model (python3 standard library only: it runs where nothing can be installed).

Reads `actsparse bench model --csv` rows of several ranks × threads layouts; writes the CSV with derived columns
(speed-up vs 1 rank × 1 thread and vs 1 rank × the same cores, communication share, RSS per rank vs 1 rank), the
points for `actsparse plot`, and prints the fitted cost model with projections.

Cost model, per token: t = W / min(R · b · T^γ, B) + α · c, where W is the bytes the token reads (all ranks),
R ranks of T threads each, b one core's bandwidth, γ ≤ 1 how well threads inside one process scale, B the
socket's bandwidth, c the collectives per token and α the cost of one. α is measured (time inside collectives per
collective, on the multi-rank rows, which includes waiting for the slower rank); b, γ and B by a grid search.
"""
import csv
import math
import sys

src, dst, points, cores = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = list(csv.DictReader(open(src)))
if not rows:
    sys.exit("no measurements")
for r in rows:
    for k in ("ranks", "threads"):
        r[k] = int(r[k])
    for k in ("sparsity", "tokens_per_s", "read_gbps", "total_gbps", "rss_mb_max_rank", "comm_ms",
              "collectives_per_token", "message_kb_per_token", "mb_read_per_token", "realized_gate_up", "realized_down"):
        r[k] = float(r[k])
    r["cores"] = r["ranks"] * r["threads"]
    r["ms"] = 1e3 / r["tokens_per_s"]


def find(ranks, threads, s):
    for r in rows:
        if (r["ranks"], r["threads"], r["sparsity"]) == (ranks, threads, s):
            return r
    return None


for r in rows:
    one = find(1, 1, r["sparsity"])
    same = find(1, r["cores"], r["sparsity"])  # one rank with as many threads as this layout's cores
    base = find(1, 1, 0.0) or one
    r["speedup_vs_1x1"] = r["tokens_per_s"] / one["tokens_per_s"] if one else float("nan")
    r["ratio_vs_1_rank_same_cores"] = r["tokens_per_s"] / same["tokens_per_s"] if same else float("nan")
    r["comm_pct"] = 100 * r["comm_ms"] / r["ms"]
    r["pct_of_read"] = 100 * r["total_gbps"] / r["read_gbps"] if r["read_gbps"] > 0 else float("nan")
    r["rss_vs_1_rank"] = r["rss_mb_max_rank"] / base["rss_mb_max_rank"] if base else float("nan")

# Fit t(ms) = W / min(R b T^γ, B) + α c on every row (MB / (GB/s) = ms).
def predict(r, b, g, B, a):
    return r["mb_read_per_token"] / min(r["ranks"] * b * r["threads"] ** g, B) + a * r["collectives_per_token"]

multi = [r for r in rows if r["ranks"] > 1 and r["collectives_per_token"] > 0]
alpha = sum(r["comm_ms"] / r["collectives_per_token"] for r in multi) / len(multi) if multi else 0.0
best = None
for i in range(60):
    b = 2 * 1.06 ** i  # 2 … ~62 GB/s per core
    for k in range(11):
        g = k / 10  # threads^0 (no gain) … threads^1 (as good as ranks)
        for j in range(80):
            B = 5 * 1.05 ** j  # 5 … ~240 GB/s per socket
            err = sum(((predict(r, b, g, B, alpha) - r["ms"]) / r["ms"]) ** 2 for r in rows)
            if best is None or err < best[0]:
                best = (err, b, g, B)
_, b, gamma, B = best
for r in rows:
    r["model_ms"] = predict(r, b, gamma, B, alpha)

fields = ["ranks", "threads", "cores", "sparsity", "tokens_per_s", "speedup_vs_1x1", "ratio_vs_1_rank_same_cores",
          "ms", "model_ms", "total_gbps", "read_gbps", "pct_of_read", "comm_ms", "comm_pct", "collectives_per_token",
          "message_kb_per_token", "mb_read_per_token", "rss_mb_max_rank", "rss_vs_1_rank", "realized_gate_up",
          "realized_down", "shard", "mode"]
with open(dst, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(fields)
    for r in rows:
        w.writerow([f"{r[k]:.4g}" if isinstance(r[k], float) else r[k] for k in fields])

print(f"{'layout':>14} {'sparsity':>8} {'tok/s':>7} {'×1x1':>6} {'×1 rank':>8} {'ms':>7} {'model':>7} "
      f"{'GB/s':>6} {'%read':>6} {'comm%':>6} {'coll':>5} {'RSS MB':>7} {'×RSS':>5}")
for r in sorted(rows, key=lambda r: (r["sparsity"], r["cores"], r["threads"])):
    print(f"{r['ranks']:>4} × {r['threads']} thr {r['sparsity']:>8.2f} {r['tokens_per_s']:>7.2f} "
          f"{r['speedup_vs_1x1']:>6.2f} {r['ratio_vs_1_rank_same_cores']:>8.2f} {r['ms']:>7.1f} {r['model_ms']:>7.1f} "
          f"{r['total_gbps']:>6.1f} {r['pct_of_read']:>6.0f} {r['comm_pct']:>6.1f} {r['collectives_per_token']:>5.0f} "
          f"{r['rss_mb_max_rank']:>7.0f} {r['rss_vs_1_rank']:>5.2f}")
print(f"fitted: one core {b:.1f} GB/s, T threads in one rank {b:.1f}·T^{gamma:.1f} GB/s, the socket {B:.1f} GB/s "
      f"(saturated by {B / b:.1f} single-thread ranks), {alpha * 1e3:.1f} µs per collective (measured) "
      f"(rms relative error {math.sqrt(best[0] / len(rows)) * 100:.1f} %)")

# Projections: a 7B token per socket count (each socket as fitted), and per node count on a 100 Gb/s link
# (per collective: the fitted α plus 2 µs latency per hop of a log2 tree plus bytes / 12.5 GB/s).
for s in sorted({r["sparsity"] for r in rows}):
    ref = max((r for r in rows if r["sparsity"] == s), key=lambda r: (r["cores"], r["ranks"]))
    W, c, kb = ref["mb_read_per_token"], ref["collectives_per_token"], ref["message_kb_per_token"]
    socket = [1e3 / (W / (n * B) + alpha * c * (n > 1)) for n in (1, 2, 4, 8)]  # ms: MB / (GB/s); one rank per socket
    # kB per token over 12.5 GB/s: kb · 1e3 / 12.5e9 s = kb · 8e-5 ms
    nodes = [1e3 / (W / (n * B) + (c * (alpha + 2e-3 * math.log2(n)) + kb * 8e-5 if n > 1 else 0))
             for n in (1, 2, 4, 8)]
    print(f"projection at sparsity {s:.2f} ({W:.0f} MB/token, {c:.0f} collectives): sockets 1/2/4/8 → "
          + "/".join(f"{v:.1f}" for v in socket) + " tok/s; nodes on 100 Gb/s 1/2/4/8 → "
          + "/".join(f"{v:.1f}" for v in nodes) + " tok/s")

with open(points, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["series", "x", "y", "style"])
    for s in sorted({r["sparsity"] for r in rows}):
        tag = "dense" if s == 0 else f"{s * 100:.0f}% sparse"  # no commas: the plot reads plain CSV
        for t in sorted({r["threads"] for r in rows}):
            sub = sorted((r for r in rows if r["sparsity"] == s and r["threads"] == t and r["ranks"] > 1), key=lambda r: r["cores"])
            one = find(1, t, s)
            sub = ([one] if one else []) + sub
            if len(sub) > 1 or (sub and t == 1):
                for r in sub:
                    w.writerow([f"ranks x {t} thr - {tag}", r["cores"], f"{r['tokens_per_s']:.3f}", "line"])
        single = sorted((r for r in rows if r["sparsity"] == s and r["ranks"] == 1), key=lambda r: r["cores"])
        for r in single:
            w.writerow([f"1 rank x threads - {tag}", r["cores"], f"{r['tokens_per_s']:.3f}", "line"])
        ref = max((r for r in rows if r["sparsity"] == s), key=lambda r: (r["cores"], r["ranks"]))
        for n in range(1, max(r["cores"] for r in rows) + 1):  # the model for n single-thread ranks
            m = {"mb_read_per_token": ref["mb_read_per_token"], "ranks": n, "threads": 1,
                 "collectives_per_token": ref["collectives_per_token"] if n > 1 else 0}
            w.writerow([f"model ranks x 1 thr - {tag}", n, f"{1e3 / predict(m, b, gamma, B, alpha):.3f}", "dash"])
print(f"wrote {dst}")
