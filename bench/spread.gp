# The spread curves of docs/spread.md, from bench/spread/*.txt (bench/spread.sh).
set terminal svg size 960,400 dynamic font "DejaVu Sans,12" background "#ffffff"
set output "docs/img/spread.svg"
set multiplot layout 1,2 title "cloister sim --spread: fraction of the other nodes that know, against seconds since (LAN profile, 1 ms latency, seed 1)" font ",12"
set grid lc rgb "#dddddd"
set key bottom right
set yrange [0:1.02]
set ylabel "fraction of nodes that know"
set xlabel "seconds since the node left"
set title "a leave (gossip only)"
files = "100 1000 10000"
colors = "#1c7ed6 #e8590c #2f9e44"
plot for [i=1:3] sprintf("bench/spread/n%s-leave.txt", word(files, i)) using 1:2 with steps lw 2 lc rgb word(colors, i) title sprintf("N = %s", word(files, i)), \
     "bench/spread/n1000-leave-quiet.txt" using 1:2 with steps lw 2 dt 2 lc rgb word(colors, 2) title "N = 1000, left 2 s later (22 s)"
set xlabel "seconds since the node crashed"
set title "a crash (suspicion, then gossip of the death)"
plot for [i=1:3] sprintf("bench/spread/n%s-fail.txt", word(files, i)) using 1:2 with steps lw 2 lc rgb word(colors, i) title sprintf("N = %s", word(files, i))
unset multiplot
