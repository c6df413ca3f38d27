#!/usr/bin/env bash
# The critique's experiment (Hu, Zou, Xu, NeurIPS 2024; docs/RESULTS.md "Does MSSA descend on R^c?"):
# per layer, R^c against the layer's own U^l before and after each MSSA step, at initialization and after
# a short training, for CRATE and the critique's variants. Writes <out>/table.md, <out>/critique.csv and
# <out>/critique.png; each variant's run folder (with its report.html) under <out>/<variant>.
#
#   scripts/critique.sh [OUT]            defaults: OUT=runs/critique, EPOCHS=2, TRAIN=10000, IMAGES=256
#
# Before the step: R^c(Z^l | U^l) (the layer input) and R^c(LN Z^l | U^l) (the official measurement's
# side); after it: R^c(Z^{l+1/2} | U^l); measurement convention (eps^2 = 0.01, unit-norm head
# projections, class token included), and again with raw tokens (--raw-tokens: the papers' R^c, no
# normalization); mean over IMAGES Fashion-MNIST test images (the same images before and after).
# A variant whose folder already holds model.safetensors and its features is measured, not retrained
# (the runs are seeded: a retrained folder gives the same numbers).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
W=${WHITEBOX:-$repo/build/experiments/whitebox}
out=${1:-runs/critique}
epochs=${EPOCHS:-2}
train=${TRAIN:-10000}
images=${IMAGES:-256}
threads=${THREADS:-2}
mkdir -p "$out"
declare -A flags=(
  [crate]=""
  [attention-only]="--mlp none"
  [negative]="--mssa-sign minus"
  [negative-attention-only]="--mssa-sign minus --mlp none"
  [transposed]="--output-map transposed"
  [transposed-attention-only]="--output-map transposed --mlp none"
  [negative-transposed]="--mssa-sign minus --output-map transposed"
  [negative-transposed-attention-only]="--mssa-sign minus --output-map transposed --mlp none"
)
# With the free W_o the sign is a reparametrization (W_o, b_o -> -W_o, -b_o); with the tied output map
# (transposed) it is not, so the sign is tested there too.
order=(crate attention-only negative negative-attention-only transposed transposed-attention-only
       negative-transposed negative-transposed-attention-only)
echo "variant,stage,layer,rc_z,rc_ln,rc_half,raw_z,raw_half,test_accuracy" > "$out/critique.csv"
for v in "${order[@]}"; do
  run="$out/$v"
  if [ ! -f "$run/model.safetensors" ] || [ ! -f "$run/features.init.safetensors" ]; then
    # shellcheck disable=SC2086
    "$W" train --model crate-mini-28 ${flags[$v]} --epochs "$epochs" --train-limit "$train" --test-limit 2000 \
      --threads "$threads" --quiet --out "$run" --report
  fi
  acc=$(/usr/bin/python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if '\"epoch\"' in l]; print(r[-1]['test_accuracy'])" "$run/metrics.jsonl")
  "$W" measure --checkpoint "$run/model.safetensors" --init --limit "$images" --threads "$threads" --no-plot \
    --out "$run/layers" --dump-features "$run/features.safetensors" > /dev/null
  for stage in init trained; do
    f="$run/features.safetensors"
    [ "$stage" = init ] && f="$run/features.init.safetensors"
    "$W" rate "$f" --features input --subspaces subspaces --no-plot --out "$run/rc_z.$stage" > /dev/null
    "$W" rate "$f" --features ln1 --subspaces subspaces --no-plot --out "$run/rc_ln.$stage" > /dev/null
    "$W" rate "$f" --features z_half --subspaces subspaces --no-plot --out "$run/rc_half.$stage" > /dev/null
    "$W" rate "$f" --features input --subspaces subspaces --raw-tokens --no-plot --out "$run/raw_z.$stage" > /dev/null
    "$W" rate "$f" --features z_half --subspaces subspaces --raw-tokens --no-plot --out "$run/raw_half.$stage" > /dev/null
    /usr/bin/python3 - "$run" "$stage" "$v" "$acc" >> "$out/critique.csv" <<'EOF'
import csv, sys
run, stage, v, acc = sys.argv[1:]
col = lambda name: [float(r["rc_mean"]) for r in csv.DictReader(open(f"{run}/{name}.{stage}.csv"))]
cols = zip(col("rc_z"), col("rc_ln"), col("rc_half"), col("raw_z"), col("raw_half"))
for l, (z, ln, h, rz, rh) in enumerate(cols, 1):
    print(f"{v},{stage},{l},{z:.3f},{ln:.3f},{h:.3f},{rz:.3f},{rh:.3f},{acc if stage == 'trained' else ''}")
EOF
  done
  echo "critique: $v done (test accuracy $acc)"
done
/usr/bin/python3 - "$out" <<'EOF'
import csv, sys, collections
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/critique.csv")))
by = collections.OrderedDict()
for r in rows:
    by.setdefault((r["variant"], r["stage"]), []).append(r)
lines = ["| variant | stage | test acc. | R^c(Z^{l+1/2}) - R^c(Z^l), unit-norm (measurement), layers 1..L | layers lowered: vs Z^l, vs LN Z^l | R^c(Z^{l+1/2}) - R^c(Z^l), raw tokens | layers lowered |",
         "|---|---|---|---|---|---|---|"]
for (v, stage), rs in by.items():
    down_z = sum(float(r["rc_half"]) < float(r["rc_z"]) for r in rs)
    down_ln = sum(float(r["rc_half"]) < float(r["rc_ln"]) for r in rs)
    acc = rs[0]["test_accuracy"]
    lines.append(f"| {v} | {stage} | {100 * float(acc):.2f}% | " if acc else f"| {v} | {stage} | | ")
    down_raw = sum(float(r["raw_half"]) < float(r["raw_z"]) for r in rs)
    lines[-1] += " ".join(f"{float(r['rc_half']) - float(r['rc_z']):+.1f}" for r in rs)
    lines[-1] += f" | {down_z}, {down_ln} of {len(rs)} | "
    lines[-1] += " ".join(f"{float(r['raw_half']) - float(r['raw_z']):+.1f}" for r in rs) + f" | {down_raw} of {len(rs)} |"
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
# the figure: R^c(Z^{l+1/2}) - R^c(Z^l) per layer, one panel per stage
with open(f"{out}/delta.dat", "w") as f:
    for (v, stage), rs in by.items():
        f.write(f'"{v} {stage}"\n')
        for r in rs:
            f.write(f"{r['layer']} {float(r['rc_half']) - float(r['rc_z']):.4f} "
                    f"{float(r['raw_half']) - float(r['raw_z']):.4f}\n")
        f.write("\n\n")
keys = list(by.keys())
plots = {s: [i for i, k in enumerate(keys) if k[1] == s] for s in ("init", "trained")}
gp = [f"set terminal pngcairo size 1400,1000 font ',10'", f"set output '{out}/critique.png'", "set multiplot layout 2,2",
      "set xlabel 'layer'", "set ylabel 'R^c(Z^{l+1/2}) - R^c(Z^l)  [nats; < 0: the step compresses]'", "set grid",
      "set key outside bottom center horizontal maxrows 3", "set xzeroaxis lt -1"]
for column, convention in ((2, "unit-norm tokens (measurement)"), (3, "raw tokens (the papers R^c)")):
    for s, idx in plots.items():
        gp.append(f"set title 'MSSA step, {s}, {convention}'")
        gp.append("plot " + ", ".join(f"'{out}/delta.dat' index {i} using 1:{column} with linespoints title '{keys[i][0]}'"
                                      for i in idx))
gp.append("unset multiplot")
open(f"{out}/critique.gp", "w").write("\n".join(gp) + "\n")
EOF
gnuplot "$out/critique.gp"
echo "critique: wrote $out/table.md, $out/critique.csv, $out/critique.png"
