#!/usr/bin/env perl
# 3. Rotation under load, as the README says to rotate: mv the event log
# away, then USR1 (nginx -s reopen), every 1.5 s.  Workers append to the
# moved file until each has reopened; every acknowledged event must be in
# exactly one of the files, once, on a valid line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Time::HiRes qw(sleep time);

my $duration = $ENV{FAULTS_ROTATE_SECONDS} || 9;
my $every = 1.5;

my $dir = workdir();
my $port = port(0);

my $master = start_nginx(dir => $dir, port => $port,
                         conf => upbot_conf(dir => $dir, port => $port,
                                            workers => 2));

my $until = time + $duration;

load_events(file => "$dir/events-$_.txt", port => $port, tag => "r$_",
            until => $until, seed => 20 + $_) for 1 .. 3;

my $n = 0;
my @files;

# each rotation leaves a second of load at least for the new file
while (1) {
    sleep $every;
    last if time > $until - 1;
    $n++;
    my $to = "$dir/logs/events.jsonl.$n";
    rename "$dir/logs/events.jsonl", $to or die "rename: $!";
    kill 'USR1', $master or die "USR1: $!";
    push @files, $to;
}

reap_all(30);
sleep 0.3;
stop_nginx($master, 20);

push @files, "$dir/logs/events.jsonl";

my $ev = tally(glob "$dir/events-*.txt");
my $c = check_event_logs(\@files, $ev->{acked});
my @sizes = map { scalar(() = slurp($_) =~ /\n/g) } @files;

figure('rotations (mv, then USR1)', $n, '>=',
       int($duration / $every * 0.8));
info('lines per file, oldest first', join(' ', @sizes));
figure('files without a line (load reached each)',
       scalar(grep { !$_ } @sizes), '==', 0);
info('ReportMediaEvent batches sent', $ev->{batches});
figure('  answers that are not a row of the error table, or none',
       $ev->{X} + $ev->{C}, '==', 0);
figure('  answers other than ret 0', $ev->{T}, '==', 0);
note("  e.g. $_") for @{ $ev->{examples} };
info('events acknowledged (ret 0)', scalar keys %{ $ev->{acked} });
figure('acknowledged events in none of the files', $c->{missing}, '==', 0);
figure('events on more than one line (in one file or across files)',
       $c->{duplicated}, '==', 0);
figure('lines that are not valid JSON of the log\'s shape (torn)',
       $c->{invalid}, '==', 0);
figure('lines of events never acknowledged', $c->{extra}, '==', 0);

log_figures($dir);
