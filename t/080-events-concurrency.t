# Several workers write events at once, and the log is rotated (rename, then
# USR1 as "nginx -s reopen" sends) while they do: no line may be lost, torn,
# duplicated or interleaved with another batch's.  A plain Test::More test:
# Test::Nginx's data format has no concurrent clients.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use File::Spec;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 1;
my $root = File::Spec->rel2abs("t/servroot-concurrency");

my $clients = 8;        # processes sending at once
my $requests = 150;     # batches per client
my $items = 5;          # items per batch
my $pad = 'p' x 2000;   # ~10 KB a batch: well past PIPE_BUF

remove_tree($root);
make_path("$root/conf", "$root/logs");

# as a clone under "mktemp -d" is: only the owner may enter, so workers that
# are not the test's user (NginxMain's "user root;" missing) fail to reopen
chmod 0700, $root or die "chmod $root: $!";

open my $fh, '>', "$root/conf/tokens" or die $!;
print $fh "t0k3n concurrency\n";
close $fh;

my $modules = main_prelude();

open $fh, '>', "$root/conf/nginx.conf" or die $!;
print $fh <<"_EOC_";
$modules
worker_processes  4;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  256;
}

http {
    access_log         off;
    upbot_auth_tokens  tokens;
    upbot_event_log    logs/events.jsonl;
    upbot_max_string_length  4k;

    server {
        listen  127.0.0.1:$port reuseport;

        location = /e {
            upbot_report_media_event;
            add_header X-Pid \$pid;
        }
    }
}
_EOC_
close $fh;

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");

sub batch {
    my ($client, $n) = @_;
    my @items = map {
        "{\"event_id\":1110201,\"code\":\"c$client\","
        . "\"trace_id\":\"$client-$n-$_\",\"duration\":$_}"
    } 1 .. $items;
    return "{\"head\":{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"device_info\":{\"uuid\":\"$pad\"}},"
           . "\"items\":[" . join(',', @items) . "]}";
}

# each client reports what the server acknowledged and which worker did it

my @kids;

for my $client (1 .. $clients) {
    pipe(my $r, my $w) or die $!;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        for my $n (1 .. $requests) {
            my $resp = post_events($port, batch($client, $n));
            my ($worker) = $resp =~ /^X-Pid: (\d+)/mi;
            my $ok = $resp =~ m{^HTTP/1\.1 200 .*\{"ret":0,"msg":""\}$}s;
            print $w ($ok ? "ok" : "fail"), " $client-$n ",
                     ($worker // 0), "\n";
        }
        close $w;
        exit 0;
    }

    close $w;
    push @kids, [$pid, $r];
}

# rotate the log while the clients are busy, as logrotate would: once
# about a third of the batches are in

my $third = $clients * $requests * $items * length($pad) / 3;

for (1 .. 400) {
    last if (-s "$root/logs/events.jsonl" // 0) > $third;
    sleep 0.01;
}

ok(rename("$root/logs/events.jsonl", "$root/logs/events.jsonl.1"),
   'log renamed under load');
ok(kill('USR1', $master), 'USR1 sent to the master');

my (%acked, %workers, $failed);

for my $kid (@kids) {
    my ($pid, $r) = @$kid;
    while (my $line = <$r>) {
        my ($status, $batch, $worker) = split ' ', $line;
        if ($status eq 'ok') {
            $acked{$batch} = 1;
            $workers{$worker} = 1;
        } else {
            $failed++;
        }
    }
    waitpid($pid, 0);
}

is($failed // 0, 0, 'every batch answered ret 0');
is(scalar keys %acked, $clients * $requests, 'every batch acknowledged');
cmp_ok(scalar keys %workers, '>=', 2, 'several workers wrote: '
       . join(',', sort keys %workers));

kill 'QUIT', $master;
for (1 .. 100) {
    last unless kill 0, $master;
    sleep 0.05;
}

# read both files: the rotated one and the one reopened after USR1

my (@lines, %per_file);

for my $file ("events.jsonl.1", "events.jsonl") {
    open my $in, '<', "$root/logs/$file" or die "$file: $!";
    my $content = do { local $/; <$in> };
    ok($content =~ /\n\z/, "$file ends with a whole line");
    my @l = split /\n/, $content;
    $per_file{$file} = scalar @l;
    push @lines, @l;
}

cmp_ok($per_file{"events.jsonl"}, '>', 0, 'the reopened log got lines');
cmp_ok($per_file{"events.jsonl.1"}, '>', 0, 'the rotated log kept its lines');

my ($torn, %seen, %batch_lines, $dups) = (0);
my $prev_rid = '';
my %rid_runs;

for my $line (@lines) {
    if ($line !~ /^\{"received_ms":\d+,"request_id":"([0-9a-f]{32})",.*"uuid":"$pad","event_id":"1110201","code":"c\d+","trace_id":"(\d+)-(\d+)-(\d+)","duration":(\d+)\}$/) {
        $torn++;
        next;
    }
    my ($rid, $client, $n, $item, $dur) = ($1, $2, $3, $4, $5);
    $dups++ if $seen{"$client-$n-$item"}++;
    push @{$batch_lines{"$client-$n"}}, $item;
    # a batch's lines are contiguous: its request id forms one run
    $rid_runs{$rid}++ if $rid ne $prev_rid;
    $prev_rid = $rid;
}

is($torn, 0, 'no torn or interleaved line');
is($dups // 0, 0, 'no duplicated line');
is(scalar @lines, $clients * $requests * $items, 'no line lost');

my $split = grep { $_ > 1 } values %rid_runs;
is($split, 0, "every batch's lines are contiguous");

my $disordered = grep {
    join(',', @{$batch_lines{$_}}) ne join(',', 1 .. $items)
} keys %batch_lines;
is($disordered, 0, 'items of a batch are stored in order');

my @unacked = grep { !$acked{$_} } keys %batch_lines;
is(scalar @unacked, 0, 'only acknowledged batches are stored');

open my $err, '<', "$root/logs/error.log" or die $!;
my @alerts = grep { /\[(alert|crit|emerg)\]/ } <$err>;
is(scalar @alerts, 0, 'no alert in the error log') or diag(@alerts);

done_testing();
