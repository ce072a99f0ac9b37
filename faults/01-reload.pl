#!/usr/bin/env perl
# 1. A reload (HUP, as "nginx -s reload" sends) every 0.5 s, every other
# one to a changed configuration (another ttl, one more code), under mixed
# load: GetMediaInfo on a static code and on live codes (Tencent and Yunxin,
# at the mock, ttl 1 s so that calls are under way during reloads) and
# ReportMediaEvent batches, each item with a unique trace_id, one
# connection per request (Connection: close, so that no keep-alive race of
# the client's own is counted).  Every request must get a row of the error
# table (ret 0 for all of them here), and every acknowledged event must be
# in the event log exactly once, on a line that is valid JSON.  Meanwhile
# upbot_metrics is scraped every 0.1 s: no counter may ever go down (the
# zone's counters outlive each reload), and at the end the counts of
# answers and events are those the clients saw.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Time::HiRes qw(sleep time);

my $duration = $ENV{FAULTS_RELOAD_SECONDS} || 12;
my $every = 0.5;

my $dir = workdir();
my ($port, $mock) = (port(0), port(1));

start_mock(dir => "$dir/mock", port => $mock, fixtures => mock_fixtures());

# every other reload loads a changed configuration: another ttl, one more
# code (the zone, its name and size, stay)
my $metrics = "        location = /metrics { upbot_metrics; }\n";
my @confs = (upbot_conf(dir => $dir, port => $port, mock => $mock,
                        workers => 2, server_extra => $metrics),
             upbot_conf(dir => $dir, port => $port, mock => $mock,
                        workers => 2, server_extra => $metrics,
                        cache => 'ttl=2s stale=30s lock_timeout=3s retry=1s',
                        http_extra => "    upbot_codes {\n        alt  static"
                                      . "  g1  url=https://example.com/a;\n"
                                      . "    }\n"));

my $master = start_nginx(dir => $dir, port => $port, conf => $confs[0]);

# the live codes' first facts, so that the load starts on a warm zone
my $warm = 0;

for my $code (qw(lt ly)) {
    my $r = post_api($port, '/m', media_info_body($code, 'warm'));
    note("warm-up $code: $r->{status} $r->{body}");
    $warm++ if (table_answer($r) // -1) == 0;
}

my $until = time + $duration;

load_events(file => "$dir/events-$_.txt", port => $port, tag => "c$_",
            until => $until, seed => $_) for 1 .. 2;
load_media(file => "$dir/static.txt", port => $port, codes => ['st'],
           tag => 's', until => $until);
load_media(file => "$dir/live.txt", port => $port, codes => [qw(lt ly)],
           tag => 'l', until => $until);

# the scraper: a line per scrape, "S" and its counters that went down
spawn("$dir/scrapes.txt", sub {
    my $fh = shift;
    my %last;

    while (time < $until) {
        my %now = counters(request(port => $port, method => 'GET',
                                   path => '/metrics', timeout => 5));
        my @down = grep { exists $last{$_} && $now{$_} < $last{$_} }
                   keys %now;
        print $fh join(' ', 'S', map { "$_:$last{$_}>$now{$_}" } @down),
                  "\n" if %now;
        %last = %now if %now;
        sleep 0.1;
    }
});

my $reloads = 0;

while (time < $until - 0.2) {
    sleep $every;
    write_file("$dir/conf/nginx.conf", $confs[ ($reloads + 1) % 2 ]);
    $reloads++ if kill 'HUP', $master;
}

reap_all(30);
sleep 0.5;
my $alive = nginx_alive($master);
my %final = counters(request(port => $port, method => 'GET',
                             path => '/metrics', timeout => 5));
stop_nginx($master, 20);

my $ev = tally(glob "$dir/events-*.txt");
my $st = tally("$dir/static.txt");
my $live = tally("$dir/live.txt");

figure('reloads (HUP every 0.5 s, every other one a new config)',
       $reloads, '>=',
       int($duration / $every * 0.8));
figure('nginx master alive after the reloads', $alive, '==', 1);

info('GetMediaInfo on the static code: requests', $st->{batches});
figure('  answers that are not a row of the error table, or none',
       $st->{X} + $st->{C}, '==', 0);
figure('  answers other than ret 0', $st->{T}, '==', 0);
info('GetMediaInfo on the live codes: requests', $live->{batches});
figure('  answers that are not a row of the error table, or none',
       $live->{X} + $live->{C}, '==', 0);
figure('  answers other than ret 0', $live->{T}, '==', 0);
note("  live answers: " . join(', ', map { "$_ $live->{ret}{$_}" }
                                    sort keys %{ $live->{ret} }));

info('ReportMediaEvent batches sent', $ev->{batches});
figure('  answers that are not a row of the error table, or none',
       $ev->{X} + $ev->{C}, '==', 0);
figure('  answers other than ret 0', $ev->{T}, '==', 0);
note("  e.g. $_") for @{ $st->{examples} }, @{ $live->{examples} },
                      @{ $ev->{examples} };

my $c = check_event_logs(["$dir/logs/events.jsonl"], $ev->{acked});

info('events acknowledged (ret 0)', scalar keys %{ $ev->{acked} });
info('event log lines', $c->{lines});
figure('acknowledged events missing from the log', $c->{missing}, '==', 0);
figure('events on more than one line', $c->{duplicated}, '==', 0);
figure('lines that are not valid JSON of the log\'s shape (torn)',
       $c->{invalid}, '==', 0);
figure('lines of events never acknowledged', $c->{extra}, '==', 0);

my @scrapes = read_lines("$dir/scrapes.txt");
my @down = grep { /:/ } @scrapes;
my $events = 0;
$events += $final{qq(upbot_events_total{event_id="$_"})} // 0
    for qw(1110201 1110204 1100102 other);

info('scrapes of upbot_metrics during the reloads', scalar @scrapes);
figure('  scrapes in which a counter went down', scalar @down, '==', 0);
note("  e.g. $_") for @down[0 .. ($#down < 2 ? $#down : 2)];
figure('  GetMediaInfo ret 0: the clients\' count minus the metrics\'',
       $st->{A} + $live->{A} + $warm
       - ($final{'upbot_requests_total{api="GetMediaInfo",ret="0"}'} // 0),
       '==', 0);
figure('  ReportMediaEvent ret 0: the clients\' count minus the metrics\'',
       $ev->{A}
       - ($final{'upbot_requests_total{api="ReportMediaEvent",ret="0"}'}
          // 0), '==', 0);
figure('  events acknowledged minus upbot_events_total',
       scalar(keys %{ $ev->{acked} }) - $events, '==', 0);

info('p99 of all requests\' latency',
     1000 * percentile(99, @{ $ev->{seconds} }, @{ $st->{seconds} },
                       @{ $live->{seconds} }), unit => 'ms');

log_figures($dir);


# a scrape's counters (and histograms' parts), by series
sub counters {
    my $res = shift;
    return () unless $res->{status} == 200 && $res->{complete};
    return $res->{body}
           =~ /^(upbot_\w+?(?:_total|_bucket|_count|_sum)(?:\{[^}]*\})?) (\S+)$/mg;
}
