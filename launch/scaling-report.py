"""Scaling report for launch/scaling: derived columns, a fitted cost model, projections, a plot.

Model (per format): t = max over ranks of (bytes read per token on that rank) / B_R + alpha + beta * message bytes,
with one bandwidth B_R per rank count (ranks on one machine share its memory), fitted by least squares.
"""
import csv
import math
import sys

import numpy as np

src, dst, png = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(src)))
for r in rows:
    for k in ("ranks", "msg_bytes_per_token"):
        r[k] = int(r[k])
    for k in ("target_sparsity", "ms_per_token", "comm_us_per_token", "read_mb_per_token_max",
              "read_mb_per_token_total", "realized_gateup", "realized_down"):
        r[k] = float(r[k])

def find(fmt, mode, ranks, s):
    for r in rows:
        if (r["format"], r["mode"], r["ranks"], r["target_sparsity"]) == (fmt, mode, ranks, s):
            return r
    return None

for r in rows:
    one = find(r["format"], r["mode"], 1, r["target_sparsity"])
    dense = find(r["format"], r["mode"], r["ranks"], 0.0)
    r["effective_gbps"] = r["read_mb_per_token_total"] / r["ms_per_token"]
    r["comm_pct"] = 100 * r["comm_us_per_token"] / (1e3 * r["ms_per_token"])
    r["speedup_vs_1rank"] = one["ms_per_token"] / r["ms_per_token"] if one else float("nan")
    r["speedup_vs_dense"] = dense["ms_per_token"] / r["ms_per_token"] if dense else float("nan")

fields = ["format", "mode", "ranks", "target_sparsity", "realized_gateup", "realized_down", "ms_per_token",
          "effective_gbps", "comm_us_per_token", "comm_pct", "speedup_vs_1rank", "speedup_vs_dense",
          "read_mb_per_token_max", "msg_bytes_per_token", "mb_per_rank_max", "checksum"]
with open(dst, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(fields)
    for r in rows:
        w.writerow([f"{r[k]:.4g}" if isinstance(r[k], float) else r[k] for k in fields])
print(f"wrote {dst}")

# Fit per format.
models = {}
for fmt in sorted({r["format"] for r in rows}):
    sub = [r for r in rows if r["format"] == fmt]
    rks = sorted({r["ranks"] for r in sub})
    X = np.array([[r["read_mb_per_token_max"] * 1e6 * (r["ranks"] == k) for k in rks]
                  + [1.0, r["msg_bytes_per_token"]] for r in sub])
    y = np.array([r["ms_per_token"] * 1e-3 for r in sub])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    bw = {k: (1 / c if c > 0 else float("inf")) for k, c in zip(rks, coef[:len(rks)])}
    alpha, beta = coef[len(rks)], coef[len(rks) + 1]
    models[fmt] = (rks, bw, alpha, beta)
    print(f"\n{fmt}: per-rank bandwidth " + ", ".join(f"{k} rank(s) {bw[k]/1e9:.1f} GB/s" for k in rks)
          + f"; alpha {alpha*1e6:.0f} us; beta {beta*1e9:.3f} ns/B")
    print(f"{'mode':7} {'ranks':>5} {'spars':>5} {'measured ms':>11} {'modeled ms':>10} {'comm us':>8} {'x1rank':>6}")
    for r, pred in zip(sub, X @ coef):
        print(f"{r['mode']:7} {r['ranks']:5d} {r['target_sparsity']:5.2f} {r['ms_per_token']:11.3f} "
              f"{pred*1e3:10.3f} {r['comm_us_per_token']:8.1f} {r['speedup_vs_1rank']:6.2f}")

# Projections: S sockets, each with this machine's 1-rank bandwidth; nodes on 100 Gb/s (12.5 GB/s) with
# 5 us per message hop, log2(S) hops per collective, 3 collectives per token (reduce) or 6 (gather).
print("\nProjection at 50 % sparsity (ms/token): sockets share nothing but the messages")
print(f"{'format':14} {'mode':7} " + " ".join(f"{s:>9}" for s in ("1 socket", "2 sock", "4 sock", "8 sock",
                                                                    "2 nodes", "4 nodes", "8 nodes")))
for fmt, (rks, bw, alpha, beta) in models.items():
    for mode in ("gather", "reduce"):
        base = find(fmt, mode, 1, 0.5)
        two = find(fmt, mode, max(rks), 0.5)
        if not base or not two:
            continue
        total = base["read_mb_per_token_total"] * 1e6
        msg = two["msg_bytes_per_token"]
        b1 = bw[1]
        sock = [total / s / b1 + alpha + (beta * msg if s > 1 else 0) for s in (1, 2, 4, 8)]
        hops = 6 if mode == "gather" else 3
        node = [total / s / b1 + alpha + hops * 5e-6 * math.ceil(math.log2(s)) + msg / 12.5e9 for s in (2, 4, 8)]
        print(f"{fmt:14} {mode:7} " + " ".join(f"{t*1e3:9.3f}" for t in sock + node))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)
fmts = sorted({r["format"] for r in rows})
fig, axes = plt.subplots(1, len(fmts), figsize=(6 * len(fmts), 4.5), squeeze=False)
for ax, fmt in zip(axes[0], fmts):
    rks, bw, alpha, beta = models[fmt]
    for mode, style in (("gather", "-"), ("reduce", "--")):
        for k in rks:
            sub = sorted((r for r in rows if r["format"] == fmt and r["mode"] == mode and r["ranks"] == k),
                         key=lambda r: r["target_sparsity"])
            if not sub:
                continue
            xs = [r["target_sparsity"] for r in sub]
            ax.plot(xs, [r["ms_per_token"] for r in sub], style, marker="o", label=f"{k} rank(s) {mode}")
            model = [r["read_mb_per_token_max"] * 1e6 / bw[k] * 1e3 + alpha * 1e3
                     + beta * r["msg_bytes_per_token"] * 1e3 for r in sub]
            ax.plot(xs, model, ":", color=ax.lines[-1].get_color(), alpha=0.6)
    ax.set_title(f"Llama-7B MLP, {fmt} (dotted: model)")
    ax.set_xlabel("target sparsity")
    ax.set_ylabel("ms / token")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(png, dpi=110)
print(f"wrote {png}")
