# bench/run.sh --plot: draws the recorded run's figures as SVG.
#   gnuplot -e "throughput='T'; latency='L'; outdir='D'" bench/plot.gnuplot
# T: load_bench --plot_data (method conc service direct pgbouncer floor limit)
# L: per subscriber count, 200 quantiles of the delivery latency
#    (subscribers ms share), one data block each (1, 100, 1,000 subscribers)
set terminal svg size 900,420 dynamic font "sans,12" background rgb "white"
set grid
set key below
set logscale x 2
set xlabel "concurrent callers"
set ylabel "calls per second"
set yrange [0:*]
set xtics (1, 4, 16, 64)
set xrange [0.8:80]

do for [method in "GetMessage ListMessages"] {
  set output outdir."/throughput-".method.".svg"
  set title method." calls/s (bench dataset, one bench/run.sh run)"
  plot throughput using 2:(strcol(1) eq method ? $3 : NaN) with linespoints lw 3 pt 7 lc rgb "#c00000" title "the service", \
       throughput using 2:(strcol(1) eq method ? $4 : NaN) with linespoints lw 2 pt 5 lc rgb "#1f77b4" title "its SQL direct (libpqxx)", \
       throughput using 2:(strcol(1) eq method ? $5 : NaN) with linespoints lw 2 pt 9 lc rgb "#2ca02c" title "its SQL via PgBouncer", \
       throughput using 2:(strcol(1) eq method ? $6 : NaN) with linespoints lw 2 dt 2 pt 13 lc rgb "#7f7f7f" title "gRPC floor (no work)", \
       throughput using 2:(strcol(1) eq method ? $7 : NaN) with linespoints lw 2 dt 4 pt 11 lc rgb "#000000" title "limit 1/(1/floor+1/direct)"
}

unset logscale x
set logscale x 10
set xtics auto
set yrange [0:1]
set xlabel "post -> event latency (ms, log scale)"
set ylabel "share of deliveries"
set key below
set xrange [*:*]
set output outdir."/event-latency.svg"
set title "Event delivery latency, cumulative, by number of subscribers"
plot latency index 0 using 2:3 with lines lw 2 title "1 subscriber", \
     latency index 1 using 2:3 with lines lw 2 title "100 subscribers", \
     latency index 2 using 2:3 with lines lw 2 title "1,000 subscribers"
