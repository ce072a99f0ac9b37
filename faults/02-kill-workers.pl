#!/usr/bin/env perl
# 2. kill -9 of a worker every 0.5 s under event load (and GetMediaInfo on
# the live codes, whose look-ups use the shared zone): the master starts a
# new worker each time.  A connection cut by a kill gets no answer, so its
# events are not acknowledged and may or may not be in the log; but every
# answer that does come is a row of the error table, every acknowledged
# event is in the log exactly once, no line is torn, and nginx still
# answers at the end.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Time::HiRes qw(sleep time);

my $duration = $ENV{FAULTS_KILL_SECONDS} || 10;
my $every = 0.5;

my $dir = workdir();
my ($port, $mock) = (port(0), port(1));

start_mock(dir => "$dir/mock", port => $mock, fixtures => mock_fixtures());

my $master = start_nginx(dir => $dir, port => $port,
                         conf => upbot_conf(dir => $dir, port => $port,
                                            mock => $mock, workers => 2));

post_api($port, '/m', media_info_body($_, 'warm')) for qw(lt ly);

my $until = time + $duration;

load_events(file => "$dir/events-$_.txt", port => $port, tag => "k$_",
            until => $until, seed => 10 + $_) for 1 .. 3;
load_media(file => "$dir/live.txt", port => $port, codes => [qw(lt ly st)],
           tag => 'l', until => $until);

srand(2);
my $kills = 0;

while (time < $until - 0.2) {
    sleep $every;
    my @w = workers_of($master);
    next unless @w;
    $kills++ if kill 'KILL', $w[int rand @w];
}

reap_all(30);

# the workers started after the last kill answer
my $after;
for (1 .. 40) {
    my $r = post_api($port, '/m', media_info_body('st', 'after'));
    $after = $r->{status} == 200 ? 1 : 0;
    last if $after;
    sleep 0.25;
}

my $alive = nginx_alive($master);
stop_nginx($master, 20);

my $ev = tally(glob "$dir/events-*.txt");
my $live = tally("$dir/live.txt");

figure('workers killed (kill -9 every 0.5 s)', $kills, '>=',
       int($duration / $every * 0.8));
figure('nginx answers after the kills', $after // 0, '==', 1);
figure('nginx master alive', $alive, '==', 1);

info('ReportMediaEvent batches sent', $ev->{batches});
info('  cut by a kill (no answer, not acknowledged)', $ev->{C});
figure('  answers that are not a row of the error table', $ev->{X}, '==', 0);
figure('  answers other than ret 0', $ev->{T}, '==', 0);
info('GetMediaInfo requests (live and static codes)', $live->{batches});
info('  cut by a kill', $live->{C});
figure('  answers that are not a row of the error table', $live->{X},
       '==', 0);
figure('  answers other than ret 0', $live->{T}, '==', 0);
note("  e.g. $_") for @{ $ev->{examples} }, @{ $live->{examples} };

my $c = check_event_logs(["$dir/logs/events.jsonl"], $ev->{acked});

info('events acknowledged (ret 0)', scalar keys %{ $ev->{acked} });
info('event log lines', $c->{lines});
figure('acknowledged events missing from the log', $c->{missing}, '==', 0);
figure('events on more than one line', $c->{duplicated}, '==', 0);
figure('lines that are not valid JSON of the log\'s shape (torn)',
       $c->{invalid}, '==', 0);
info('lines of events never acknowledged (cut after the write)',
     $c->{extra});

my $exits = error_log_count("$dir/logs/error.log", qr/exited on signal 9\b/);
figure('"exited on signal 9" lines = kills', $exits, '==', $kills);
log_figures($dir, signals => $kills);
