#!/bin/bash
# portwatch on Slurm: a job array decodes the archive in 8 shards; the merge job (slurm-merge.sh) runs on a
# GPU node once every task of the array has succeeded. See docs/cluster.md.
#
#   array=$(sbatch --parsable slurm-array.sh)
#   sbatch --dependency=afterok:$array slurm-merge.sh
#
#SBATCH --job-name=portwatch-shards
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
set -euo pipefail
ARCHIVE=/shared/archive      # on a file system every node mounts at the same path
OUT=/shared/portwatch-out
# portwatch takes the shard index and count from SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN) and
# SLURM_ARRAY_TASK_COUNT. A requeued task resumes: scenes already in its folder are not decoded again.
exec portwatch run "$ARCHIVE" --out "$OUT/shard-$SLURM_ARRAY_TASK_ID"
