# "upbot_event_log ... fsync=on" while a sync takes long (t/lib/synctrace.c
# makes each fdatasync() of the log last 1.5 s): a client that leaves while
# its batch waits, over HTTP/1.1 and over HTTP/2, crashes nothing; a
# reopen while a sync runs: the batch written before it is synced in the
# old file, the one written after in the new file, each by a sync of its
# own; a reload while a sync runs: the old worker answers before it exits.
# A plain Test::More test: the clients run at once.  Skipped unless nginx
# has threads.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $v = `$nginx -V 2>&1`;

plan(skip_all => "$nginx is not built --with-threads")
    if $v !~ /--with-threads/;

my $h2 = $v =~ /--with-http_v2_module/ && `curl -V 2>&1` =~ /\bHTTP2\b/;

my $port = base_port() + 9;
my $root = File::Spec->rel2abs("t/servroot-fsync-waits");

remove_tree($root);
make_path("$root/conf", "$root/logs");
chmod 0700, $root or die "chmod $root: $!";

my $cc = $ENV{CC} || 'cc';

is(system($cc, '-shared', '-fPIC', '-o', "$root/synctrace.so",
          't/lib/synctrace.c', '-ldl'),
   0, 'the trace shim builds') or BAIL_OUT("cannot build t/lib/synctrace.c");

write_file("$root/conf/tokens", "t0k3n waits\n");

my $modules = main_prelude();
my $listen_h2 = $h2 ? "listen  127.0.0.1:" . ($port + 1) . " http2;" : '';

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  1;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log         off;
    upbot_auth_tokens  tokens;
    upbot_event_log    logs/events.jsonl fsync=on;

    server {
        listen  127.0.0.1:$port;
        $listen_h2

        location = /e {
            upbot_report_media_event;
            add_header X-Pid \$pid always;
        }
    }
}
_EOC_

{
    local $ENV{LD_PRELOAD} = "$root/synctrace.so";
    local $ENV{SYNCTRACE_OUT} = "$root/trace";
    local $ENV{SYNCTRACE_LOG} = 'events.jsonl';
    local $ENV{SYNCTRACE_SLOW} = 'events.jsonl:1500';

    is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0,
       'nginx starts with its syncs slowed down')
        or BAIL_OUT("cannot start nginx");
}

my $master = wait_for_pid("$root/logs/nginx.pid");

sub batch {
    my ($trace) = @_;
    return '{"head":{"account_info":{"account_type":2,"appid":"a",'
           . '"openid":"o"}},"items":[{"trace_id":"' . $trace . '"}]}';
}

# a batch sent by a child; its answer is read back with answer_of()
sub send_batch {
    my ($trace) = @_;
    pipe(my $r, my $w) or die $!;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        my $t0 = time;
        my $resp = post_events($port, batch($trace));
        my ($status) = $resp =~ m{^HTTP/1\.1 (\d+)};
        my ($worker) = $resp =~ /^X-Pid: (\d+)/mi;
        my $ret = $resp =~ /"ret":(\d+)/ ? $1 : '-';
        printf $w "%s %s %s %.3f\n", $status // 0, $ret, $worker // 0,
               time - $t0;
        close $w;
        exit 0;
    }

    close $w;
    return [$pid, $r];
}

sub answer_of {
    my ($kid) = @_;
    my ($pid, $r) = @$kid;
    my $line = <$r> // '';
    waitpid($pid, 0);
    my ($status, $ret, $worker, $secs) = split ' ', $line;
    return { status => $status // 0, ret => $ret // '-',
             worker => $worker // 0, secs => $secs // 0 };
}

sub worker_pids {
    my @pids;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $s = slurp($stat);
        push @pids, $1 if $s =~ /^(\d+) \(nginx\) \S+ $master /;
    }
    return sort @pids;
}

my @workers = worker_pids();
is(scalar @workers, 1, 'one worker');

# 1. an HTTP/1.1 client that leaves while its batch waits

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    my $body = batch('gone-1');
    print $s "POST /e HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    sleep 0.3;
    close $s;
}

my $after = answer_of(send_batch('after-1'));
is($after->{status}, 200, 'the next batch is answered 200');
is($after->{ret}, 0, '... ret 0');
is_deeply([worker_pids()], \@workers, 'the same worker serves it: no crash');
like(slurp("$root/logs/events.jsonl"), qr/"trace_id":"gone-1"/,
     "the gone client's batch is in the log");

# 2. an HTTP/2 client that leaves while its batch waits

SKIP: {
    skip 'no HTTP/2 in nginx or curl', 3 unless $h2;

    my $t0 = time;
    system('curl', '-s', '-o', '/dev/null', '--http2-prior-knowledge',
           '-m', '0.3', '-H', 'Content-Type: application/json',
           '-H', 'Authorization: t0k3n', '--data-binary', batch('gone-h2'),
           "http://127.0.0.1:" . ($port + 1) . "/e");
    cmp_ok(time - $t0, '<', 1.4, 'the HTTP/2 client left before the sync ended');

    my $next = answer_of(send_batch('after-h2'));
    is("$next->{status} $next->{ret}", '200 0', 'the next batch is answered');
    is_deeply([worker_pids()], \@workers, 'the same worker serves it: no crash');
}

# 3. a reopen while a sync runs: before it, the batch goes to the old
#    file; after it, to the new one, and each file gets a sync of its own

my $old = send_batch('before-reopen');
sleep 0.3;

ok(rename("$root/logs/events.jsonl", "$root/logs/events.jsonl.1"),
   'log renamed while the sync runs');
ok(kill('USR1', $master), 'USR1 (reopen) sent');

for (1 .. 100) {
    last if -e "$root/logs/events.jsonl";
    sleep 0.01;
}

sleep 0.3;  # the worker, too, has reopened

my $new = send_batch('after-reopen');

my ($a_old, $a_new) = (answer_of($old), answer_of($new));

is("$a_old->{status} $a_old->{ret}", '200 0', 'the batch written before the reopen is answered');
is("$a_new->{status} $a_new->{ret}", '200 0', 'the batch written after it is answered');
cmp_ok($a_new->{secs}, '>', 1.4, '... after a sync of its own');

like(slurp("$root/logs/events.jsonl.1"), qr/"trace_id":"before-reopen"/,
     'the first is in the rotated file');
like(slurp("$root/logs/events.jsonl"), qr/"trace_id":"after-reopen"/,
     'the second in the new one');

my (%w, @s, %sb, %ans);

for (split /\n/, slurp("$root/trace")) {
    my ($seq, $ns, $pid, $tid, $kind, @f) = split ' ';
    if ($kind eq 'W') {
        $w{$f[2]} = { seq => $seq, ino => $f[1] };
    } elsif ($kind eq 'SB') {
        $sb{$seq} = { begin => $seq, ino => $f[1] };
    } elsif ($kind eq 'SE' && $sb{$f[2]}) {
        push @s, { %{ $sb{$f[2]} }, end => $seq, rc => $f[3] };
    } elsif ($kind eq 'A') {
        push @{ $ans{$f[1]} }, $seq;
    }
}

my ($w1, $w2) = ($w{'before-reopen'}, $w{'after-reopen'});

SKIP: {
    skip 'the trace lacks the writes', 3 unless $w1 && $w2;

    isnt($w1->{ino}, $w2->{ino}, 'the two batches went to two files');

    my ($s1) = grep { $_->{ino} eq $w1->{ino} && $_->{begin} > $w1->{seq} } @s;
    my ($s2) = grep { $_->{ino} eq $w2->{ino} && $_->{begin} > $w2->{seq} } @s;

    ok($s1 && $s1->{rc} == 0, 'the old file was synced after its write');
    ok($s1 && $s2 && $s2->{begin} > $s1->{end},
       'the new file by the next sync, one at a time');
}

# 4. a reload while a sync runs: the old worker answers, then exits

my $pending = send_batch('before-reload');
sleep 0.3;

ok(kill('HUP', $master), 'HUP (reload) sent while the sync runs');

my $waited = answer_of($pending);
is("$waited->{status} $waited->{ret}", '200 0', 'the waiting batch is answered');
is($waited->{worker}, $workers[0], '... by the old worker');

for (1 .. 100) {
    last unless kill 0, $workers[0];
    sleep 0.05;
}

ok(!kill(0, $workers[0]), 'which then exits');

my $next = answer_of(send_batch('after-reload'));
is("$next->{status} $next->{ret}", '200 0', 'a new worker answers the next batch');
isnt($next->{worker}, $workers[0], '... a new one');

kill 'QUIT', $master;
for (1 .. 100) {
    last unless kill 0, $master;
    sleep 0.05;
}

open my $err, '<', "$root/logs/error.log" or die $!;
my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/ } <$err>;
is(scalar @bad, 0, 'no alert, no crash in the error log') or diag(@bad);

done_testing();
