# conf-examples/rsyslog-upbot.conf ships every acknowledged event once and
# unchanged.  rsyslogd -N1 accepts the recipe as it is (alone and as a
# drop-in under Debian's rsyslog.conf); then a private rsyslogd runs the same
# recipe, paths moved under t/servroot-rsyslog and the Kafka action (between
# its BEGIN/END kafka markers) swapped for a file, while clients post batches
# to nginx, the log is rotated with conf-examples/upbot-events-rotate.sh and
# rsyslogd is restarted (again, until a restart finds lines to save).  A
# plain Test::More test: Test::Nginx's data format has no concurrent
# clients.

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

my $rsyslogd = $ENV{TEST_RSYSLOGD} || '/usr/sbin/rsyslogd';

plan skip_all => "$rsyslogd not installed (make test installs it)"
    unless -x $rsyslogd;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 6;
my $root = File::Spec->rel2abs("t/servroot-rsyslog");
my $recipe = File::Spec->rel2abs("conf-examples/rsyslog-upbot.conf");
my $rotate = File::Spec->rel2abs("conf-examples/upbot-events-rotate.sh");

my $clients = 6;        # processes sending at once
my $requests = 100;     # batches per client at least; they go on until
                        # the rotations are done
my $items = 5;          # items per batch
my $pause = 0.04;       # s between a client's batches: a rate rsyslogd
                        # keeps up with
my $rotations = 4;      # one a second while they send
my $deadline = 120;     # seconds for delivery after the last answer

# lines of about 9 KB, past rsyslog's default 8k message size, with UTF-8,
# escaped control characters and quotes, which must all pass unchanged
my $uuid = ("\xc3\xa9" x 600) . ('\u0001' x 400) . ('p' x 2000);
my $openid = ('o' x 2000) . ('\"' x 500);

my $started = time;

# whatever happens, no client, rsyslogd or nginx outlives the test
my ($master, $rsyslog_pid, @kids);
my $parent = $$;

END {
    return unless defined $parent && $$ == $parent;
    kill 'KILL', map { $_->[0] } @kids;
    stop_rsyslog() if $rsyslog_pid;
    stop_nginx() if $master;
}

# die, so that END runs, on running out of time or being interrupted
$SIG{$_} = sub { die "110-rsyslog.t: SIG$_[0]\n" } for qw(ALRM INT TERM HUP);
alarm(300);

remove_tree($root);
make_path("$root/conf", "$root/logs", "$root/work", "$root/check");

write_file("$root/conf/tokens", "t0k3n rsyslog\n");

# --- the recipe as shipped ---------------------------------------------

# -N1 loads every module and checks every parameter (omkafka's too), but
# needs a work directory: Debian's rsyslog.conf sets one, the other prelude
# here does

write_file("$root/check/alone.conf", <<"_EOC_");
global(workDirectory="$root/check")
include(file="$recipe")
_EOC_

my $out = `$rsyslogd -N1 -f $root/check/alone.conf 2>&1`;
is($?, 0, 'rsyslogd -N1 accepts the recipe') or diag($out);
unlike($out, qr/error|warning/i, '... without a warning') or diag($out);

SKIP: {
    skip 'no /etc/rsyslog.conf', 2 unless -r '/etc/rsyslog.conf';
    my $debian = slurp('/etc/rsyslog.conf');
    $debian =~ s{^\$IncludeConfig\s.*$}{\$IncludeConfig $recipe}m
        or BAIL_OUT('no $IncludeConfig in /etc/rsyslog.conf');
    write_file("$root/check/debian.conf", $debian);
    $out = `$rsyslogd -N1 -f $root/check/debian.conf 2>&1`;
    is($?, 0, "... and as a drop-in under Debian's rsyslog.conf") or diag($out);
    unlike($out, qr/error|warning/i, '... without a warning') or diag($out);
}

# --- the same recipe, shipping to a file -------------------------------

# derived mechanically, so that the recipe and what is tested can't drift:
# its paths moved here, the Kafka action's own lines replaced by omfile's
# (queue and retry settings stay), the template used with a newline added.
# A file takes lines faster than Kafka would: a pause after each batch the
# queue hands over keeps some lines in it, so that the restart has some to
# save to disk and read back

my $conf = slurp($recipe);

my $moved = $conf =~ s{/var/log/nginx/upbot-events\.jsonl}{$root/logs/events.jsonl}g;
is($moved, 2, 'the recipe names the event log twice (live and rotated)');

my ($template, $string) =
    $conf =~ /^template\(name="(\w+)" type="string" string="([^"]*)"\)$/m;
ok(defined $template, "the recipe's template: $string");
$template //= 'none';
$string //= '';

my $kafka = $conf =~ s{^([ \t]*)# BEGIN kafka\b.*?^[ \t]*# END kafka\b[^\n]*\n}
    {$1type="omfile" file="$root/sink.jsonl" template="${template}_lf"
$1queue.dequeueSlowdown="1500000"\n}ms;
my $swapped = $&;
is($kafka, 1, 'the Kafka action is marked BEGIN/END kafka');
like($swapped, qr/type="omkafka".*template="$template"/s,
     'the marked lines are the omkafka action using that template')
    if $kafka;

$conf =~ s{^(template\(name="$template".*)$}
          {$1\ntemplate(name="${template}_lf" type="string" string="$string\\n")}m;

write_file("$root/conf/rsyslog-upbot.conf", $conf);

# rsyslogd's own messages (imfile's complaints, queue trouble) go to a file
# of their own, with their severity: the events are in the recipe's ruleset
write_file("$root/conf/rsyslog.conf", <<"_EOC_");
global(workDirectory="$root/work")
include(file="$root/conf/rsyslog-upbot.conf")
template(name="severity" type="string" string="%syslogseverity% %msg%\\n")
*.* action(type="omfile" file="$root/logs/rsyslogd.log" template="severity")
_EOC_

$out = `$rsyslogd -N1 -f $root/conf/rsyslog.conf 2>&1`;
is($?, 0, 'rsyslogd -N1 accepts the derived configuration') or diag($out);

# --- nginx -------------------------------------------------------------

my $modules = main_prelude();

write_file("$root/conf/nginx.conf", <<"_EOC_");
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
    client_body_temp_path  $root/body;
    upbot_auth_tokens  tokens;
    upbot_event_log    logs/events.jsonl;
    upbot_max_string_length  4k;

    server {
        listen  127.0.0.1:$port reuseport;

        location = /e {
            upbot_report_media_event;
        }
    }
}
_EOC_

# nginx first, so that the event log exists when rsyslogd starts (or it
# warns); without a state file rsyslogd reads it from its first line

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");
$master = wait_for_pid("$root/logs/nginx.pid");

start_rsyslog();

# --- load, rotations, a restart of rsyslogd ----------------------------


for my $client (1 .. $clients) {
    pipe(my $r, my $w) or die $!;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        $SIG{$_} = 'DEFAULT' for qw(ALRM INT TERM HUP);
        for (my $n = 1; $n <= $requests || !-e "$root/stop"; $n++) {
            my $resp = post_events($port, batch($client, $n));
            my $ok = $resp =~ m{^HTTP/1\.1 200 .*\{"ret":0,"msg":""\}$}s;
            print $w ($ok ? "ok" : "fail"), " $client-$n\n";
            sleep $pause;
        }
        close $w;
        POSIX::_exit(0);      # not the parent's END
    }

    close $w;
    push @kids, [$pid, $r];
}

# rotate once a second, and restart rsyslogd after the second rotation;
# again after the next ones while no restart has found lines in the queue
# to save (the queue's worker may just have taken them all: a slower nginx,
# as a sanitized one, sends fewer); then let the clients finish

my ($rotated, $restarted) = (0, 0);
my $load = time;

while ($rotated < $rotations) {
    last unless grep { waitpid($_->[0], WNOHANG) == 0 } @kids;
    if (time - $load < $rotated + 1) {
        sleep 0.01;
        next;
    }
    my $rc = system('sh', $rotate, "$root/logs/events.jsonl",
                    "$root/logs/nginx.pid");
    is($rc, 0, 'rotation ' . ++$rotated . ' under load');
    if ($rotated >= 2 && !saved_lines()) {
        stop_rsyslog();
        start_rsyslog();
        $restarted++;
    }
}

sleep 0.5;
write_file("$root/stop", '');

my (%acked, $failed, $batches);

for my $kid (@kids) {
    my ($pid, $r) = @$kid;
    while (my $line = <$r>) {
        my ($status, $batch) = split ' ', $line;
        $batches++;
        if ($status eq 'ok') {
            $acked{$batch} = 1;
        } else {
            $failed++;
        }
    }
    waitpid($pid, 0);
}

my $sent = time - $load;

is($failed // 0, 0, 'every batch answered ret 0');
is(scalar keys %acked, $batches, "every batch acknowledged ($batches)");
cmp_ok($batches, '>=', $clients * $requests, '... at least as many as planned');
is($rotated, $rotations, "$rotations rotations under load");
cmp_ok($restarted, '>=', 1, 'rsyslogd restarted under load');

# what nginx stored: the live file and the archives

opendir my $dh, "$root/logs" or die $!;
my @files = sort grep { /^events\.jsonl(\..*\d)?$/ } readdir $dh;
closedir $dh;
is(scalar @files, $rotations + 1, 'the live file and one archive per rotation')
    or diag("@files");

my @stored = map { split /(?<=\n)/, slurp("$root/logs/$_") } @files;

# wait until rsyslogd has shipped as many lines as nginx stored

my $t0 = time;
my @shipped;

while (time - $t0 < $deadline) {
    @shipped = split /(?<=\n)/, slurp("$root/sink.jsonl");
    last if @shipped >= @stored;
    sleep 0.2;
}

my $delivery = time - $t0;

# another second for anything beyond (a duplicate would come late)
sleep 1;
@shipped = split /(?<=\n)/, slurp("$root/sink.jsonl");

stop_rsyslog();
stop_nginx();

# every line nginx stored is one of an acknowledged batch, as in
# t/080-events-concurrency.t; then the sink holds exactly those lines

my (%stored, %shipped, %acked_items);

for my $line (@stored) {
    my ($id) = $line =~ /"trace_id":"(\d+-\d+-\d+)"/;
    $stored{$id // 'torn'}++;
}

for my $line (@shipped) {
    my ($id) = $line =~ /"trace_id":"(\d+-\d+-\d+)"/;
    $shipped{$id // 'torn'}++;
}

for my $batch (keys %acked) {
    $acked_items{"$batch-$_"} = 1 for 1 .. $items;
}

is(scalar @stored, $items * keys %acked, 'nginx stored every event');
is(scalar(grep { !$acked_items{$_} } keys %stored), 0,
   'nginx stored only acknowledged events');

my @lost = grep { !$shipped{$_} } sort keys %acked_items;
my @dups = grep { $shipped{$_} > 1 } sort keys %shipped;
my @extra = grep { !$acked_items{$_} } sort keys %shipped;

is(scalar @lost, 0, 'no acknowledged event lost')
    or diag(scalar(@lost) . " lost, e.g. @lost[0 .. ($#lost < 9 ? $#lost : 9)]");
is(scalar @dups, 0, 'no event shipped twice')
    or diag(scalar(@dups) . " twice, e.g. @dups[0 .. ($#dups < 9 ? $#dups : 9)]");
is(scalar @extra, 0, 'nothing else shipped') or diag("@extra[0 .. 9]");

# byte for byte: the same multiset of lines

my %diff;
$diff{$_}++ for @stored;
$diff{$_}-- for @shipped;
my @changed = grep { $diff{$_} } keys %diff;
is(scalar @changed, 0, 'every shipped line is byte-identical to the stored one')
    or diag(scalar(@changed) . ' lines differ, e.g. '
            . substr((sort @changed)[0], 0, 300));

# warnings and worse, in its log or on its stderr once the log is closed;
# but for events of a file imfile has let go of, which come when it lags,
# and the cancellation of the queue's worker while it pauses (the pause is
# the test's own: the lines it held are saved, as checked above)
my @complaints =
    grep { !/provided watch descriptor \d+ which we could not find/
           && !/need to do cooperative cancellation/ }
    (grep({ /^[0-4] / } split /\n/, slurp("$root/logs/rsyslogd.log")),
     grep({ !/internal message \([5-7],/ }
          split /\n/, slurp("$root/logs/rsyslogd.out")));
is(scalar @complaints, 0, 'rsyslogd complained of nothing')
    or diag(join "\n", @complaints);

my @alerts = grep { /\[(alert|crit|emerg)\]/ }
             split /\n/, slurp("$root/logs/error.log");
is(scalar @alerts, 0, 'no alert in the error log') or diag(@alerts);

my $saved = saved_lines();
cmp_ok($saved, '>', 0, 'a restart saved the lines in the queue to disk');

note(sprintf "%d events in %d batches from %d clients, %d rotations, "
     . "%d restarts of rsyslogd (the queue saved %d lines to disk); "
     . "%d lines shipped; sending took %.1f s, "
     . "delivery after the last answer %.1f s, %.1f s in all",
     $items * keys %acked, scalar keys %acked, $clients,
     $rotated, $restarted, $saved, scalar @shipped, $sent, $delivery,
     time - $started);

done_testing();

# --- helpers -----------------------------------------------------------

sub start_rsyslog {
    unlink "$root/logs/rsyslogd.pid";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$root/logs/rsyslogd.out" or die $!;
        # TEST_RSYSLOG_DEBUG=1: its debug log, for when something is amiss
        # (the config parser's trace goes to stdout then)
        if ($ENV{TEST_RSYSLOG_DEBUG}) {
            $ENV{RSYSLOG_DEBUG} = 'NoStdOut';
            $ENV{RSYSLOG_DEBUGLOG} = "$root/logs/rsyslogd.debug";
            open STDOUT, '>>', "$root/logs/rsyslogd.debug.out" or die $!;
        }
        open STDERR, '>>', "$root/logs/rsyslogd.out" or die $!;
        exec($rsyslogd, '-n', ($ENV{TEST_RSYSLOG_DEBUG} ? '-d' : ()),
             '-f', "$root/conf/rsyslog.conf", '-i', "$root/logs/rsyslogd.pid")
            or POSIX::_exit(127);
    }
    $rsyslog_pid = $pid;
    wait_for_pid("$root/logs/rsyslogd.pid");
    ok(kill(0, $pid), 'rsyslogd runs');
}

# the lines the restarts so far found in the queue and saved to disk
sub saved_lines {
    my $saved = 0;
    $saved += $_ for slurp("$root/logs/rsyslogd.out")
                     =~ /queue holds (\d+) messages after shutdown/g;
    return $saved;
}

sub stop_rsyslog {
    my $pid = $rsyslog_pid or return;
    kill 'TERM', $pid;
    for (1 .. 200) {
        if (waitpid($pid, WNOHANG) != 0) {
            undef $rsyslog_pid;
            return;
        }
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    undef $rsyslog_pid;
    fail('rsyslogd stops within 10 s of SIGTERM');
}

sub stop_nginx {
    my $pid = $master or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last unless kill 0, $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid if kill 0, $pid;
    undef $master;
}

sub batch {
    my ($client, $n) = @_;
    my @items = map {
        "{\"event_id\":1110201,\"code\":\"c$client\","
        . "\"trace_id\":\"$client-$n-$_\",\"duration\":$_}"
    } 1 .. $items;
    return "{\"head\":{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"$openid\"},\"device_info\":{\"uuid\":\"$uuid\"}},"
           . "\"items\":[" . join(',', @items) . "]}";
}
