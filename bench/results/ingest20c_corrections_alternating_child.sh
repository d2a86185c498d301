#!/bin/bash
# (record of the run in docs/performance.md: the old tree unpacked by `git archive main | tar -x -C /tmp/ingest20c/old`, the
# profile database made with bench/steady.py's store_month and five daily files; corrections written by ingest20c_write_corrections.py)
# alternate old/new 5,000 corrections of day $3, timed by the benchmark's own child; N rounds
U=$1; N=$2; DAY=$3
for i in $(seq 1 $N); do
  for t in old new; do
    /work/wt/ingest20c/.venv/bin/python /work/wt/ingest20c/bench/results/ingest20c_write_corrections.py $U /tmp/ingest20c/cy.csv 5000 $RANDOM $DAY
    if [ $t = old ]; then T=/tmp/ingest20c/old; else T=/work/wt/ingest20c; fi
    cd $T && echo "$t $(.venv/bin/python bench/ingest_bench.py --child $U /tmp/ingest20c/cy.csv 2>&1 | grep RESULT | awk '{print $2}')"
  done
done
