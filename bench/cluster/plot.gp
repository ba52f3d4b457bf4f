# RSS and failure detection vs N, cloister and Serf (data: DIR/plot.dat)
#   gnuplot -e "dir='bench/cluster/results/rpc'" bench/cluster/plot.gp
if (!exists("dir")) dir = "bench/cluster/results"
set terminal pngcairo size 1000,420 font ",10"
set output dir."/plot.png"
set multiplot layout 1,2 title "cloister vs Serf on loopback (LAN profiles)"
set key top left
set grid
set xlabel "agents (N)"
set logscale x
set ylabel "idle RSS per agent (MiB, median)"
set yrange [0:*]
plot dir."/plot.dat" u 1:2 w lp pt 7 t "cloister", \
     "" u 1:3 w lp pt 5 t "Serf"
set ylabel "failure detection, all survivors (s, median)"
plot dir."/plot.dat" u 1:4 w lp pt 7 t "cloister", \
     "" u 1:5 w lp pt 5 t "Serf"
unset multiplot
