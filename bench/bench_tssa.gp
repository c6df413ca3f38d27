# Log-log plot of bench_tssa's CSV: gnuplot -e "csv='tssa.csv'; out='tssa.png'" bench/bench_tssa.gp
if (!exists("csv")) csv = 'tssa.csv'
if (!exists("out")) out = 'tssa.png'
set terminal pngcairo size 1200,450 font ",10"
set output out
set datafile separator ","
set logscale xy
set key top left
set grid
set multiplot layout 1,2
set title "time (1 sequence, d = 384, K = 6, f32)"
set xlabel "tokens n"
set ylabel "ms"
plot csv using (strcol(2) eq "tssa" ? $1 : 1/0):($3*1e3) with points title "TSSA forward", \
     csv using (strcol(2) eq "tssa" ? $1 : 1/0):($5*1e3) with points title "TSSA fwd+bwd", \
     csv using (strcol(2) eq "mssa" ? $1 : 1/0):($3*1e3) with points title "MSSA forward", \
     csv using (strcol(2) eq "mssa" ? $1 : 1/0):($5*1e3) with points title "MSSA fwd+bwd"
set title "peak tensor memory above the input"
set ylabel "MiB"
plot csv using (strcol(2) eq "tssa" ? $1 : 1/0):($4/1048576) with points title "TSSA forward", \
     csv using (strcol(2) eq "tssa" ? $1 : 1/0):($6/1048576) with points title "TSSA fwd+bwd", \
     csv using (strcol(2) eq "mssa" ? $1 : 1/0):($4/1048576) with points title "MSSA forward", \
     csv using (strcol(2) eq "mssa" ? $1 : 1/0):($6/1048576) with points title "MSSA fwd+bwd"
unset multiplot
