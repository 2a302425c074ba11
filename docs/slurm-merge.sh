#!/bin/bash
# The merge step after slurm-array.sh: builds the outputs of one run from the 8 shards, on a GPU.
#SBATCH --job-name=portwatch-merge
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --requeue
set -euo pipefail
OUT=/shared/portwatch-out
exec portwatch merge "$OUT"/shard-{0..7} --device gpu --report --out "$OUT/merged"
