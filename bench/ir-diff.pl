#!/usr/bin/perl

# Where a request's instructions go: the per-function difference between
# the two callgrind runs `make bench` keeps (N and 2N requests), divided
# by N, so start-up and shut-down cancel out.  Give a second target to see
# the difference between the two targets, function by function.
#
#   perl bench/ir-diff.pl upbot media_info [return200] [N]

use strict;
use warnings;
use FindBin;

my ($target, $api, $base, $n) = @ARGV;

die "usage: $0 TARGET API [BASE_TARGET] [N]\n"
    unless $target && $api;

$n //= 2000;

my $work = "$FindBin::Bin/../build/bench";


# instructions per request, by function, of one target
sub per_request {
    my ($t) = @_;
    my $one = functions("$work/ir-$t-$api-$n/callgrind.out");
    my $two = functions("$work/ir-$t-$api-" . 2 * $n . '/callgrind.out');
    my %d;

    for my $f (keys %$one, keys %$two) {
        $d{$f} = (($two->{$f} // 0) - ($one->{$f} // 0)) / $n;
    }

    return \%d;
}


# exclusive instructions by function; a function that callgrind splits by
# source file is added up under its name
sub functions {
    my ($file) = @_;
    my %ir;

    -f $file or die "$0: no $file (run BENCH_ONLY=ir perl bench/bench.pl)\n";

    # callgrind_annotate warns about its own code at --threshold=100
    open my $fh, '-|', "callgrind_annotate --auto=no --inclusive=no --threshold=100"
        . " '$file' 2>/dev/null"
        or die "$0: callgrind_annotate: $!\n";

    while (<$fh>) {
        next unless /^\s*([\d,]+)\s+(?:\([\d. ]+%\)\s+)?(\S.*)$/;
        my ($count, $name) = ($1, $2);
        next if $name =~ /PROGRAM TOTALS/;
        $count =~ tr/,//d;
        $name =~ s/^\S*?:(?=[^:\s]+(?:\s|$))//;     # "file:" before the name
        $name =~ s/\s+\[.*\]$//;                    # the object file
        $ir{$name} += $count;
    }

    close $fh;

    return \%ir;
}


my $d = per_request($target);
my $o = $base ? per_request($base) : {};
my %all = map { $_ => 1 } keys %$d, keys %$o;
my %diff = map {; $_ => ($d->{$_} // 0) - ($o->{$_} // 0) } keys %all;
my $total = 0;

$total += $_ for values %diff;

printf "%s %s%s: %.0f instructions per request\n\n", $target, $api,
    $base ? " minus $base" : '', $total;

for my $f (sort { abs($diff{$b}) <=> abs($diff{$a}) } keys %diff) {
    last if abs($diff{$f}) < 10;
    printf "%8.0f  %s\n", $diff{$f}, $f;
}
