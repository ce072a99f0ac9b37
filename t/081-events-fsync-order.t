# "upbot_event_log ... fsync=on", the ordering proof: a batch is answered
# only after an fdatasync() of its file that began after its write had
# returned, and concurrent batches share syncs (group commit).  An
# LD_PRELOAD shim (t/lib/synctrace.c) records, with one sequence number for
# all of them, each write() to the event log, each fdatasync() of it (its
# start and its end) and each answer as it is sent.  Clients send batches
# at once over two workers while the log is rotated (rename, USR1) and
# nginx reloaded (HUP).  A plain Test::More test: Test::Nginx's data format
# has no concurrent clients.  Skipped unless nginx has threads.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

plan(skip_all => "$nginx is not built --with-threads")
    if `$nginx -V 2>&1` !~ /--with-threads/;

my $port = base_port() + 8;
my $root = File::Spec->rel2abs("t/servroot-fsync");

my $clients = 16;       # processes sending at once
my $requests = 40;      # batches per client
my $items = 2;          # items per batch

remove_tree($root);
make_path("$root/conf", "$root/logs");
chmod 0700, $root or die "chmod $root: $!";

my $cc = $ENV{CC} || 'cc';

is(system($cc, '-shared', '-fPIC', '-O2', '-o', "$root/synctrace.so",
          't/lib/synctrace.c', '-ldl'),
   0, 'the trace shim builds') or BAIL_OUT("cannot build t/lib/synctrace.c");

write_file("$root/conf/tokens", "t0k3n order\n");

my $modules = main_prelude();

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  2;
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
    upbot_event_log    logs/events.jsonl fsync=on;

    server {
        listen  127.0.0.1:$port;

        location = /e {
            upbot_report_media_event;
            add_header X-Batch \$upbot_trace_id always;
        }
    }
}
_EOC_

{
    local $ENV{LD_PRELOAD} = "$root/synctrace.so";
    local $ENV{SYNCTRACE_OUT} = "$root/trace";
    local $ENV{SYNCTRACE_LOG} = 'events.jsonl';

    is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0,
       'nginx starts with the shim')
        or BAIL_OUT("cannot start nginx");
}

my $master = wait_for_pid("$root/logs/nginx.pid");

sub batch {
    my ($client, $n) = @_;
    my @items = map {
        "{\"event_id\":1110201,\"code\":\"c$client\","
        . "\"trace_id\":\"$client-$n-$_\",\"duration\":$_}"
    } 1 .. $items;
    return "{\"head\":{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"}},\"items\":[" . join(',', @items) . "]}";
}

my @kids;

for my $client (1 .. $clients) {
    pipe(my $r, my $w) or die $!;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        for my $n (1 .. $requests) {
            my $resp = post_events($port, batch($client, $n));
            my ($batch) = $resp =~ /^X-Batch: (\S+)\r$/mi;
            my $ok = $resp =~ m{^HTTP/1\.1 200 .*\{"ret":0,"msg":""\}$}s;
            print $w ($ok ? "ok" : "fail"), " $client-$n ",
                     ($batch // '-'), "\n";
        }
        close $w;
        exit 0;
    }

    close $w;
    push @kids, [$pid, $r];
}

# under load: the log rotated as logrotate does, then a reload

my $total = $clients * $requests;

sub lines_in {
    my $n = 0;
    for my $f (@_) {
        $n += () = slurp("$root/logs/$f") =~ /\n/g;
    }
    return $n;
}

for (1 .. 1000) {
    last if lines_in('events.jsonl') >= $total * $items / 3;
    sleep 0.01;
}

ok(rename("$root/logs/events.jsonl", "$root/logs/events.jsonl.1"),
   'log renamed under load');
ok(kill('USR1', $master), 'USR1 (reopen) sent to the master');

for (1 .. 1000) {
    last if lines_in('events.jsonl', 'events.jsonl.1')
            >= $total * $items * 2 / 3;
    sleep 0.01;
}

ok(kill('HUP', $master), 'HUP (reload) sent to the master');

my (%acked, $failed, %mismatch);

for my $kid (@kids) {
    my ($pid, $r) = @$kid;
    while (my $line = <$r>) {
        my ($status, $batch, $header) = split ' ', $line;
        if ($status eq 'ok') {
            $acked{$batch} = 1;
            $mismatch{$batch} = $header if $header ne "$batch-1";
        } else {
            $failed++;
        }
    }
    waitpid($pid, 0);
}

is($failed // 0, 0, 'every batch answered ret 0');
is(scalar keys %acked, $total, 'every batch acknowledged');
is(scalar keys %mismatch, 0, 'each answer names its batch (X-Batch)');

kill 'QUIT', $master;
for (1 .. 200) {
    last unless kill 0, $master;
    sleep 0.05;
}

# the files: every acknowledged line once, in both

my %lines;

for my $file ('events.jsonl.1', 'events.jsonl') {
    for (split /\n/, slurp("$root/logs/$file")) {
        $lines{"$1-$2"}++ if /"trace_id":"(\d+-\d+)-(\d+)"/;
    }
}

is(scalar(grep { $_ != 1 } values %lines), 0, 'no line twice');
is(scalar keys %lines, $total * $items, 'every line stored');
cmp_ok(lines_in('events.jsonl.1'), '>', 0, 'the rotated log has lines');
cmp_ok(lines_in('events.jsonl'), '>', 0, 'the reopened log has lines');

# the trace

my (%write, @syncs, %sync_at, %answer, %seen, $again);

for (split /\n/, slurp("$root/trace")) {
    my ($seq, $ns, $pid, $tid, $kind, @f) = split ' ';

    $again++ if $seen{$seq}++;

    if ($kind eq 'W') {
        my ($fd, $ino, $trace) = @f;
        my ($batch) = $trace =~ /^(\d+-\d+)-1$/ or next;
        $write{$batch} //= { seq => $seq, ino => $ino, pid => $pid };

    } elsif ($kind eq 'SB') {
        $sync_at{$seq} = { begin => $seq, ino => $f[1], pid => $pid };

    } elsif ($kind eq 'SE') {
        my ($fd, $ino, $begin, $rc) = @f;
        my $s = $sync_at{$begin} or next;
        $s->{end} = $seq;
        $s->{rc} = $rc;
        push @syncs, $s;

    } elsif ($kind eq 'A') {
        my ($fd, $status, $header) = @f;
        my ($batch) = $header =~ /^(\d+-\d+)-1$/ or next;
        $answer{$batch} //= { seq => $seq, status => $status };
    }
}

@syncs = sort { $a->{begin} <=> $b->{begin} } @syncs;

is($again // 0, 0, 'the trace numbers its records once across processes');

is(scalar(grep { !$write{$_} } keys %acked), 0,
   'the trace has the write of every batch');
is(scalar(grep { ($answer{$_}{status} // '') ne '200' } keys %acked), 0,
   'the trace has the answer of every batch, 200');
is(scalar(grep { $_->{rc} } @syncs), 0, 'every fdatasync() succeeded');

# for each batch: a sync of its file that began after its write had
# returned, and ended before its answer was sent

my (@unsynced, %covers);

for my $batch (sort keys %acked) {
    my $w = $write{$batch} or next;
    my $ans = $answer{$batch} or next;

    my ($covering) = grep {
        $_->{ino} eq $w->{ino} && $_->{begin} > $w->{seq}
        && $_->{end} < $ans->{seq}
    } @syncs;

    push @unsynced, $batch unless $covering;

    # the sync that covered it: its worker's first after the write
    my ($first) = grep {
        $_->{pid} eq $w->{pid} && $_->{ino} eq $w->{ino}
        && $_->{begin} > $w->{seq}
    } @syncs;

    $covers{$first->{begin}}++ if $first;
}

is(scalar @unsynced, 0, 'every answer was sent after an fdatasync() that '
   . 'began after its batch was written')
    or diag("not covered: @unsynced[0 .. ($#unsynced < 9 ? $#unsynced : 9)]");

my @shared = grep { $_ > 1 } values %covers;
my $max = (sort { $b <=> $a } values %covers)[0] // 0;

cmp_ok(scalar @syncs, '<', $total, scalar(@syncs) . " syncs for $total "
       . 'batches');
cmp_ok(scalar @shared, '>', 0, scalar(@shared) . ' syncs covered several '
       . "batches each, at most $max (group commit)");

open my $err, '<', "$root/logs/error.log" or die $!;
my @alerts = grep { /\[(alert|crit|emerg)\]|upbot: fdatasync/ } <$err>;
is(scalar @alerts, 0, 'no alert, no failed sync in the error log')
    or diag(@alerts);

done_testing();
