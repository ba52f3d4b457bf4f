# BENCHMARKS.md's picture (plot_tables.py writes results/tables.dat from its tables).
set terminal svg size 1200,640 dynamic font "DejaVu Sans,11" background "#ffffff"
set output "bench/cluster/results/tables.svg"
set multiplot layout 2,3 title "cloister and Serf on loopback, LAN profiles: the figures of BENCHMARKS.md's tables (medians per agent)" font ",12"
set grid lc rgb "#dddddd"
set key top left
set xlabel "agents (N)"
set xtics ("10" 10, "50" 50, "100" 100)
set xrange [0:110]
set yrange [0:*]
d = "bench/cluster/results/tables.dat"
c1 = "#1c7ed6"; c2 = "#e8590c"
set title "join convergence (median of 7 joins)"
set ylabel "seconds"
plot d u 1:2 w lp pt 7 lw 2 lc rgb c1 t "cloister", d u 1:3 w lp pt 5 lw 2 lc rgb c2 t "Serf"
set title "failure detection, all survivors (median of 9 kills)"
plot d u 1:4 w lp pt 7 lw 2 lc rgb c1 t "cloister", d u 1:5 w lp pt 5 lw 2 lc rgb c2 t "Serf"
set key center right
set title "idle RSS per agent"
set ylabel "MiB"
plot d u 1:($6/1024) w lp pt 7 lw 2 lc rgb c1 t "cloister", d u 1:($7/1024) w lp pt 5 lw 2 lc rgb c2 t "Serf"
set title "idle CPU per agent"
set ylabel "CPU seconds per minute"
plot d u 1:8 w lp pt 7 lw 2 lc rgb c1 t "cloister", d u 1:9 w lp pt 5 lw 2 lc rgb c2 t "Serf"
set key bottom right
set title "idle traffic per agent (IP, UDP and TCP headers included)"
set ylabel "bytes per second"
plot d u 1:10 w lp pt 7 lw 2 lc rgb c1 t "cloister", d u 1:11 w lp pt 5 lw 2 lc rgb c2 t "Serf"
set title "cloister / Serf"
set ylabel "ratio (below 1: cloister smaller or faster)"
set key top right maxrows 3 width -2
set yrange [0:1.5]
plot d u 1:($2/$3) w lp pt 7 lw 2 t "convergence", d u 1:($4/$5) w lp pt 7 lw 2 t "detection", \
     d u 1:($6/$7) w lp pt 7 lw 2 t "RSS", d u 1:($8/$9) w lp pt 7 lw 2 t "CPU", \
     d u 1:($10/$11) w lp pt 7 lw 2 t "bytes", 1 w l dt 2 lc rgb "#999999" notitle
unset multiplot
