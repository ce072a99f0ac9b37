#!/usr/bin/env perl
# 4. An event log on /dev/full (every write() fails with ENOSPC) under
# concurrent batches: each answer is 1006 with HTTP 503, never 200; nginx
# stays up (no worker exits, the master answers on another location after
# it, and a good log beside it still takes events).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Time::HiRes qw(sleep time);

my $duration = $ENV{FAULTS_FULL_SECONDS} || 4;

my $dir = workdir();
my $port = port(0);

my $conf = upbot_conf(dir => $dir, port => $port, workers => 2,
                      server_extra => <<'_EOC_');
        location = /full {
            upbot_event_log  /dev/full;
            upbot_report_media_event;
        }
_EOC_

my $master = start_nginx(dir => $dir, port => $port, conf => $conf);
my $until = time + $duration;

load_events(file => "$dir/full-$_.txt", port => $port, path => '/full',
            tag => "f$_", until => $until, seed => 30 + $_) for 1 .. 3;
load_events(file => "$dir/good.txt", port => $port, tag => 'g',
            until => $until, seed => 39);

reap_all(30);

my $after = post_api($port, '/m', media_info_body('st', 'after'));
my $alive = nginx_alive($master);
stop_nginx($master, 20);

my $full = tally(glob "$dir/full-*.txt");
my $good = tally("$dir/good.txt");
my $c = check_event_logs(["$dir/logs/events.jsonl"], $good->{acked});

info('batches to the /dev/full log', $full->{batches});
figure('  answered 1006 with HTTP 503', $full->{ret}{'1006/503'} // 0,
       '==', $full->{batches});
figure('  answered 200 (acknowledged)', $full->{A}, '==', 0);
figure('  other answers, or none', $full->{batches}
       - ($full->{ret}{'1006/503'} // 0) - $full->{A}, '==', 0);
note("  e.g. $_") for @{ $full->{examples} };
info('  p99 latency of a refused batch',
     1000 * percentile(99, @{ $full->{seconds} }), unit => 'ms');

info('batches to the good log beside it', $good->{batches});
figure('  answers other than ret 0', $good->{batches} - $good->{A}, '==', 0);
figure('  acknowledged events missing from the good log', $c->{missing},
       '==', 0);
figure('  invalid or duplicated lines in the good log',
       $c->{invalid} + $c->{duplicated}, '==', 0);

figure('nginx answers GetMediaInfo afterwards (HTTP 200)',
       $after->{status} == 200 ? 1 : 0, '==', 1);
figure('nginx master alive', $alive, '==', 1);
figure('"write() to /dev/full failed" logged',
       error_log_count("$dir/logs/error.log",
                       qr{write\(\) to "/dev/full" failed \(28}) > 0 ? 1 : 0,
       '==', 1);
log_figures($dir);
