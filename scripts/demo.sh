#!/usr/bin/env bash
# The main job: installs what is missing, builds, trains a small CRATE on Fashion-MNIST (a few
# minutes on 2 cores), measures it layer by layer at initialization and after each epoch, and prints
# the test accuracy and the per-layer compression / sparsity table. Outputs go to runs/demo-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
./scripts/build.sh >/dev/null

out=runs/demo-$(date +%Y%m%d-%H%M%S)
./build/experiments/whitebox train --model crate-mini-28 --data fashion-mnist --lr 3e-3 \
  --epochs "${DEMO_EPOCHS:-2}" --out "$out" --measure-every 1
./build/experiments/whitebox measure --checkpoint "$out/model.safetensors" --label trained --init \
  --out "$out/layers"
echo
echo "run directory: $out"
echo "  curves.png (loss/accuracy), measure.png (per layer, init and each epoch), layers.png/.csv/.json,"
echo "  metrics.jsonl, model.safetensors (loads in the official PyTorch CRATE), checkpoint-N/ (weights + train state, for --resume)"
