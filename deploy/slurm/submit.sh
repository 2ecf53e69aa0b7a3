#!/bin/bash
# submit.sh N: grade the class in N shards (a job array), then merge them once all succeeded.
# The environment (ASSIGNMENT, SUBMISSIONS, GRADED, CS7150, GRADE_OPTIONS) goes to both jobs.
set -euo pipefail
N=${1:?usage: submit.sh N (the number of shards)}
HERE=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --export=ALL --array=1-"$N" "$HERE/grade-array.sbatch")
sbatch --parsable --export=ALL --dependency=afterok:"${array%%;*}" "$HERE/merge.sbatch"
