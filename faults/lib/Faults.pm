package Faults;

# What the fault scenarios of "make check-faults" share: where things are,
# an nginx of their own (started in the foreground, so that it stays in the
# scenario's process group and dies with it), a plain HTTP client with a
# deadline, load clients that write what they were answered to a file, the
# event log's check, and the figures (each a value, a bound and a verdict)
# that faults/run.pl gathers into its table.
#
# Everything listens on 127.0.0.1, on the ports given by faults/run.pl
# (FAULTS_PORT, FAULTS_PORT2), and lives in FAULTS_DIR.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(top nginx_binary workdir port figure info note
                 http_prelude http_basics start_mock start_nginx stop_nginx nginx_alive workers_of
                 nginx_accepts request post_api parse_answer table_answer
                 media_info_body event_batch spawn reap_all read_lines
                 classify load_events load_media tally upbot_conf
                 mock_fixtures log_figures nginx_t
                 check_event_logs percentile slurp write_file
                 error_log_count $JSON);

our $JSON = JSON::PP->new->canonical;

my $top = File::Spec->rel2abs(dirname(__FILE__) . '/../..');
my %nginx_pids;          # masters started here
my %kids;                # load clients forked here
my $owner = $$;

$SIG{PIPE} = 'IGNORE';


sub top { $top }

sub nginx_binary { $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx' }

# the modules to load: TEST_NGINX_LOAD_MODULES as make passes it (empty for
# a static build), else the one "make" builds
sub modules {
    return split ' ', $ENV{TEST_NGINX_LOAD_MODULES}
        if defined $ENV{TEST_NGINX_LOAD_MODULES};
    return ("$top/build/modules/ngx_http_upbot_module.so");
}

# the scenario's own folder (faults/run.pl gives one; alone, a fresh one)
sub workdir {
    my $d = $ENV{FAULTS_DIR} || tempdir('faults.XXXXXX', TMPDIR => 1,
                                        CLEANUP => !$ENV{FAULTS_KEEP});
    make_path($d);
    return $d;
}

# FAULTS_PORT (the scenario's nginx), FAULTS_PORT2 (its mock)
sub port {
    my $n = shift // 0;
    my $base = $ENV{FAULTS_PORT} || 8984;
    return $n ? ($ENV{FAULTS_PORT2} || $base + 1) : $base;
}


# --- figures -------------------------------------------------------------

# figure(NAME, VALUE, OP, BOUND, known => "why") checks VALUE OP BOUND; a
# failed check with "known" is a known defect: shown, not failing.  Every
# figure is printed at once and appended to FAULTS_RESULTS for the table.
sub figure {
    my ($name, $value, $op, $bound, %o) = @_;
    my $ok = !defined $op
             || ($op eq '<=' ? $value <= $bound
               : $op eq '<'  ? $value < $bound
               : $op eq '>=' ? $value >= $bound
               : $op eq '>'  ? $value > $bound
               : $op eq '==' ? $value == $bound
               : die "figure: operator $op");
    my $verdict = !defined $op ? 'info'
                : $ok ? 'pass'
                : $o{known} ? 'KNOWN' : 'FAIL';
    my $rec = { scenario => $ENV{FAULTS_SCENARIO} // $0, name => $name,
                value => $value, unit => $o{unit} // '',
                bound => defined $op ? "$op $bound" : '',
                verdict => $verdict, note => $o{known} // $o{note} // '' };

    printf "  %-64s %14s  %-14s %s%s\n", $name,
           fmt($value) . ($o{unit} ? " $o{unit}" : ''),
           $rec->{bound} . ($o{unit} && defined $op ? " $o{unit}" : ''),
           $verdict, $verdict eq 'KNOWN' ? " (known defect: $o{known})" : '';

    if (my $f = $ENV{FAULTS_RESULTS}) {
        open my $fh, '>>', $f or die "$f: $!";
        print $fh $JSON->encode($rec), "\n";
        close $fh;
    }

    return $ok;
}

sub info { figure($_[0], $_[1], undef, undef, @_[2 .. $#_]) }

sub fmt {
    my $v = shift;
    return $v if $v =~ /^-?\d+$/;
    return sprintf('%.3f', $v) if $v =~ /^-?[\d.]+(e-?\d+)?$/i;
    return $v;
}

sub note { print "  # @_\n" }


# --- the mock providers (util/mock-im.pl through t/lib/MockIM.pm) --------

sub start_mock {
    my (%o) = @_;

    unshift @INC, "$top/t/lib";
    require MockIM;
    no warnings 'once';

    $MockIM::Port = $ENV{TEST_NGINX_MOCK_PORT} = $o{port} // port(1);
    $MockIM::Dir = $ENV{TEST_NGINX_MOCK_DIR} = $o{dir};
    chdir $top or die "$top: $!";
    MockIM::start(fixtures => $o{fixtures});
    return $MockIM::Port;
}


# --- nginx ---------------------------------------------------------------

# the top of every scenario's nginx.conf: modules, foreground master (so it
# is our child and in our process group), "user root;" as root (the folder is
# 0700: workers that are "nobody" could not reopen a log in it)
sub http_prelude {
    my (%o) = @_;
    my $dir = $o{dir};
    my $modules = join '', map { "load_module $_;\n" } modules();
    my $user = $> == 0 ? "user root;\n" : '';
    my $workers = $o{workers} // 2;
    my $level = $o{level} // 'notice';
    my $conns = $o{connections} // 1024;

    return <<"_EOC_";
$modules$user
daemon            off;
master_process    on;
worker_processes  $workers;
error_log         $dir/logs/error.log $level;
pid               $dir/logs/nginx.pid;

events {
    worker_connections  $conns;
}
_EOC_
}

# http {} basics: temp paths in the folder, no access log
sub http_basics {
    my $dir = shift;
    return <<"_EOC_";
    access_log             off;
    client_body_temp_path  $dir/temp/body;
    proxy_temp_path        $dir/temp/proxy;
    fastcgi_temp_path      $dir/temp/fastcgi;
    uwsgi_temp_path        $dir/temp/uwsgi;
    scgi_temp_path         $dir/temp/scgi;
_EOC_
}

# writes DIR/conf/nginx.conf, starts nginx, waits until PORT answers;
# returns the master's pid
sub start_nginx {
    my (%o) = @_;
    my $dir = $o{dir};

    make_path("$dir/conf", "$dir/logs", "$dir/temp");
    write_file("$dir/conf/nginx.conf", $o{conf});

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$dir/logs/stderr";
        open STDERR, '>>', "$dir/logs/stderr";
        { exec nginx_binary(), '-p', "$dir/", '-e', "$dir/logs/error.log",
               '-c', "$dir/conf/nginx.conf" }
        POSIX::_exit(127);
    }

    $nginx_pids{$pid} = 1;

    for (1 .. 200) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $nginx_pids{$pid};
            die "nginx did not start: " . slurp("$dir/logs/stderr")
                . slurp("$dir/logs/error.log");
        }
        return $pid if nginx_accepts($o{port}) && workers_of($pid) > 0;
        sleep 0.05;
    }

    die "nginx did not answer on 127.0.0.1:$o{port}";
}

sub nginx_accepts {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 1);
    return $s ? 1 : 0;
}

sub nginx_alive {
    my $pid = shift;
    return 0 unless $nginx_pids{$pid};
    if (waitpid($pid, WNOHANG) == $pid) {
        delete $nginx_pids{$pid};
        return 0;
    }
    return kill(0, $pid) ? 1 : 0;
}

# QUIT (graceful), then KILL after a while; the workers go with the master
sub stop_nginx {
    my ($pid, $grace) = @_;
    return unless $pid && $nginx_pids{$pid};

    my @workers = workers_of($pid);
    kill 'QUIT', $pid;

    my $end = time + ($grace // 10);
    while (time < $end) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    if (kill 0, $pid) {
        kill 'KILL', $pid, workers_of($pid);
        waitpid($pid, 0);
    }

    kill 'KILL', grep { kill 0, $_ } @workers;
    delete $nginx_pids{$pid};
}

# the worker (and cache manager) processes of a master, from /proc
sub workers_of {
    my $master = shift;
    my @w;

    opendir my $d, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // next;
        my ($comm, $ppid) = $stat =~ /^\d+ \((.*)\) \S+ (\d+)/ or next;
        push @w, $p if $ppid == $master;
    }

    return @w;
}

# nginx -t on a configuration file: (wait status, what it printed); a
# run longer than LIMIT seconds is killed (status: that signal)
sub nginx_t {
    my ($prefix, $conf, $limit) = @_;
    my $out = "$prefix/nginx-t.out";

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        { exec nginx_binary(), '-t', '-p', "$prefix/", '-e', 'stderr',
               '-c', $conf }
        POSIX::_exit(127);
    }

    my $end = time + ($limit // 10);
    my $status;

    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $status = $?;
            last;
        }
        if (time > $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = $?;
            last;
        }
        sleep 0.005;
    }

    return ($status, slurp($out));
}

# lines of an error log matching a pattern
sub error_log_count {
    my ($file, $re) = @_;
    return scalar grep { /$re/ } split /\n/, slurp($file);
}


# --- HTTP ----------------------------------------------------------------

# One request on a new connection with "Connection: close", within a
# deadline.  Returns { status, headers, body, complete, elapsed, error }:
# status 0 when nothing (or no status line) came; complete when the body
# came as long as its Content-Length says.
sub request {
    my (%o) = @_;
    my $t0 = time;
    my $deadline = $t0 + ($o{timeout} // 10);
    my $body = $o{body} // '';
    my $res = { status => 0, body => '', headers => {}, complete => 0 };

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $o{port},
                                  Timeout => $o{timeout} // 10);

    if (!$s) {
        $res->{error} = "connect: $!";
        $res->{elapsed} = time - $t0;
        return $res;
    }

    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $s->blocking(0);

    my $head = $o{raw} // do {
        my $h = "$o{method} $o{path} HTTP/1.1\r\nHost: localhost\r\n";
        for my $k (sort keys %{ $o{headers} // {} }) {
            $h .= "$k: $o{headers}{$k}\r\n";
        }
        if ($o{chunks}) {
            $h .= "Transfer-Encoding: chunked\r\n";
        } elsif ($o{method} eq 'POST') {
            $h .= "Content-Length: " . length($body) . "\r\n";
        }
        $h . "Connection: close\r\n\r\n";
    };

    # chunked: the body in pieces of the sizes given, again and again
    if ($o{chunks}) {
        my ($chunked, $i, $rest) = ('', 0, $body);
        while (length $rest) {
            my $n = $o{chunks}[ $i++ % @{ $o{chunks} } ] || 1;
            my $piece = substr($rest, 0, $n, '');
            $chunked .= sprintf("%x\r\n", length $piece) . $piece . "\r\n";
        }
        $body = $chunked . "0\r\n\r\n";
    }

    my $out = defined $o{raw} ? $head : $head . $body;
    my $in = '';
    my $sel = IO::Select->new($s);
    my ($eof, $werr);

    while (!$eof) {
        my $left = $deadline - time;
        if ($left <= 0) {
            $res->{error} = 'timeout';
            last;
        }

        my ($r, $w) = IO::Select->select($sel, length $out && !$werr
                                                ? $sel : undef,
                                         undef, $left);
        if ($w && @$w) {
            my $n = syswrite($s, $out, 65536);
            if (defined $n) {
                substr($out, 0, $n, '');
            } elsif (!$!{EAGAIN}) {
                $werr = "$!";         # the server stopped reading: read on
            }
        }
        if ($r && @$r) {
            my $n = sysread($s, $in, 65536, length $in);
            if (!defined $n) {
                next if $!{EAGAIN};
                $res->{error} = "read: $!";
                last;
            }
            $eof = 1 if $n == 0;

            # the answer is whole at its Content-Length: the server may keep
            # the connection a while after it (a refresh in the background)
            my $i = index($in, "\r\n\r\n");
            if ($i >= 0 && substr($in, 0, $i) =~ /^Content-Length: *(\d+)\r?$/mi
                && length($in) >= $i + 4 + $1)
            {
                last;
            }
        }
    }

    close $s;
    $res->{elapsed} = time - $t0;
    $res->{raw} = $in;

    parse_answer($res, $in);
    $res->{error} //= $werr if !$res->{status} && $werr;
    return $res;
}

sub parse_answer {
    my ($res, $in) = @_;

    my $i = index($in, "\r\n\r\n");
    return $res if $i < 0;

    my ($line, @h) = split /\r\n/, substr($in, 0, $i);
    ($res->{status}) = ($line // '') =~ m{^HTTP/1\.[01] (\d{3})} or return $res;

    for (@h) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $res->{headers}{lc $k} = $v;
    }

    $res->{body} = substr($in, $i + 4);
    my $len = $res->{headers}{'content-length'};

    if (defined $len) {
        $res->{complete} = length($res->{body}) == $len;
        $res->{body} = substr($res->{body}, 0, $len);
    } elsif (($res->{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my ($b, $rest, $ok) = ('', $res->{body}, 0);
        while ($rest =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            if ($n == 0) { $ok = 1; last }
            last if length $rest < $n + 2;
            $b .= substr($rest, 0, $n);
            substr($rest, 0, $n + 2, '');
        }
        $res->{body} = $b;
        $res->{complete} = $ok;
    } else {
        $res->{complete} = 1;       # until the connection closed
    }

    return $res;
}

sub post_api {
    my ($port, $path, $body, %o) = @_;
    return request(port => $port, method => 'POST', path => $path,
                   body => $body, timeout => $o{timeout},
                   chunks => $o{chunks},
                   headers => { 'Content-Type' => 'application/json',
                                'Authorization' => $o{token} // 't0k3n' });
}

# README's error table: ret => [msg, HTTP statuses]
my $busy = "服务繁忙，请稍后再试";
my $bad = "请求参数错误，请稍后再试";
my $method = "请求方法或类型错误";
my %table = (0    => ['', 200],        1001 => [$bad, 400, 413],
             1002 => ['鉴权失败', 401], 1003 => ['活码不存在', 404],
             1004 => ['群已满', 409],   1005 => [$busy, 502, 504],
             1006 => [$busy, 503],      1007 => [$method, 405, 415],
             1008 => ['请求过于频繁，请稍后再试', 429]);

# the ret of a complete answer that is a row of the error table (with the
# right HTTP status, msg and content type), else undef
sub table_answer {
    my $res = shift;

    return undef unless $res->{status} && $res->{complete};
    return undef unless ($res->{headers}{'content-type'} // '')
                        eq 'application/json';

    my $doc = eval { JSON::PP->new->utf8->decode($res->{body}) };
    return undef unless ref $doc eq 'HASH';

    my $ret = $doc->{ret};
    return undef unless defined $ret && $table{$ret};

    my ($msg, @status) = @{ $table{$ret} };
    my $utf8 = $msg;
    utf8::decode($utf8);
    return undef unless defined $doc->{msg} && $doc->{msg} eq $utf8;
    return undef unless grep { $_ == $res->{status} } @status;

    my @keys = sort keys %$doc;
    my $want = $ret == 0 && exists $doc->{data} ? 'data msg ret' : 'msg ret';
    return undef unless "@keys" eq $want;

    return $ret;
}


# --- bodies --------------------------------------------------------------

sub media_info_body {
    my ($code, $trace) = @_;
    return '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
           . "\"media_type\":2,\"code\":\"$code\",\"trace_id\":\"$trace\"}";
}

# a batch whose items carry the trace ids ID-1 .. ID-N, with PAD bytes of
# uuid (a batch longer than PIPE_BUF is written in one write() too)
sub event_batch {
    my ($id, $n, $pad) = @_;
    my $uuid = 'u' x ($pad // 8);
    my @items = map {
        "{\"event_id\":\"1110201\",\"event_time\":1699274742,"
        . "\"media_type\":2,\"code\":\"st\",\"trace_id\":\"$id-$_\"}"
    } 1 .. $n;
    return '{"head":{"account_info":{"account_type":2,"appid":"a",'
           . "\"openid\":\"o\"},\"device_info\":{\"device_type\":1,"
           . "\"uuid\":\"$uuid\"}},\"items\":[" . join(',', @items) . ']}';
}


# --- load clients --------------------------------------------------------

# runs CODE in a child until it returns; its output goes to FILE
sub spawn {
    my ($file, $code) = @_;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        %nginx_pids = ();
        open my $fh, '>', $file or die "$file: $!";
        $fh->autoflush(1);
        eval { $code->($fh) };
        print $fh "X died: $@" if $@;
        close $fh;
        POSIX::_exit(0);
    }

    $kids{$pid} = 1;
    return $pid;
}

sub reap_all {
    my $limit = time + (shift // 60);

    while (%kids && time < $limit) {
        for my $pid (keys %kids) {
            delete $kids{$pid} if waitpid($pid, WNOHANG) != 0;
        }
        sleep 0.05 if %kids;
    }

    kill 'KILL', keys %kids;
    waitpid($_, 0) for keys %kids;
    %kids = ();
}

sub read_lines {
    my @l;
    push @l, split /\n/, slurp($_) for @_;
    return @l;
}


# what an answer was, for the load clients' lines: A (ret 0, HTTP 200), T
# (another row of the error table), C (cut: no answer, or not all of it),
# X (a complete answer that is no row of the table)
sub classify {
    my $res = shift;
    return ('C', $res->{status}, '-') unless $res->{status} && $res->{complete};
    my $ret = table_answer($res);
    return ('X', $res->{status}, '-') unless defined $ret;
    return ($ret == 0 ? 'A' : 'T', $res->{status}, $ret);
}

# a client that sends event batches until UNTIL, one connection each; its
# lines: KIND STATUS RET BATCH ITEMS SECONDS [ERROR]
sub load_events {
    my (%o) = @_;

    return spawn($o{file}, sub {
        my $fh = shift;
        my $n = 0;
        srand($o{seed} // 1);

        while (time < $o{until}) {
            my $id = "$o{tag}n" . ++$n;
            my $k = 1 + int rand($o{max_items} // 5);
            my $pad = rand() < 0.1 ? 1500 + int rand 1000 : int rand 200;
            my $res = post_api($o{port}, $o{path} // '/e',
                               event_batch($id, $k, $pad),
                               timeout => $o{timeout} // 10);
            my @c = classify($res);
            printf $fh "%s %s %s %s %d %.4f%s\n", @c, $id, $k,
                   $res->{elapsed},
                   $c[0] eq 'A' || $c[0] eq 'T' ? ''
                   : ' ' . ($res->{error} // substr($res->{raw} // '', 0, 80))
                           =~ s/\s+/ /gr;
        }
    });
}

# a client that asks GetMediaInfo for CODES in turn until UNTIL; lines as
# load_events' (ITEMS 0)
sub load_media {
    my (%o) = @_;

    return spawn($o{file}, sub {
        my $fh = shift;
        my $n = 0;

        while (time < $o{until}) {
            my $code = $o{codes}[ $n++ % @{ $o{codes} } ];
            my $res = post_api($o{port}, $o{path} // '/m',
                               media_info_body($code, "$o{tag}n$n"),
                               timeout => $o{timeout} // 10);
            my @c = classify($res);
            printf $fh "%s %s %s %s %d %.4f%s\n", @c, $code, 0,
                   $res->{elapsed},
                   $c[0] eq 'A' || $c[0] eq 'T' ? ''
                   : ' ' . ($res->{error} // substr($res->{raw} // '', 0, 80))
                           =~ s/\s+/ /gr;
        }
    });
}

# the clients' lines, counted: { A => n, T => n, C => n, X => n,
# ret => { "1005/502" => n }, acked => { trace id => 1 }, batches => n,
# seconds => [...], examples => [ lines of X and C ] }
sub tally {
    my %t = (A => 0, T => 0, C => 0, X => 0, batches => 0, acked => {},
             ret => {}, seconds => [], examples => [], by => {});

    for my $line (read_lines(@_)) {
        my ($kind, $status, $ret, $id, $k, $secs) = split ' ', $line;
        next unless defined $secs;
        $t{$kind}++;
        $t{batches}++;
        $t{by}{$id}{$kind}++;
        $t{ret}{"$ret/$status"}++ if $kind eq 'A' || $kind eq 'T';
        push @{ $t{seconds} }, $secs;
        push @{ $t{examples} }, $line
            if ($kind eq 'X' || $kind eq 'C') && @{ $t{examples} } < 5;
        if ($kind eq 'A' && $k > 0) {
            $t{acked}{"$id-$_"} = 1 for 1 .. $k;
        }
    }

    return \%t;
}


# --- a configuration with every kind of code ----------------------------

# The http block the load scenarios share: static code "st", live codes
# "lt" (Tencent) and "ly" (Yunxin) at the mock MOCK, events in
# logs/events.jsonl; /m and /e as the APIs.  Fixtures for the mock:
# mock_fixtures().
sub upbot_conf {
    my (%o) = @_;
    my ($dir, $port, $mock) = @o{qw(dir port mock)};
    $o{$_} //= '' for qw(app_extra http_extra server_extra);
    make_path("$dir/conf", "$dir/logs", "$dir/temp");
    $o{event_log} //= 'logs/events.jsonl';
    $o{max_string} //= '4k';         # the load's long uuids

    write_file("$dir/conf/tokens", "t0k3n faults\n");

    my $basics = http_basics($dir);
    my $cache = $o{cache} // 'ttl=1s stale=30s lock_timeout=3s retry=1s';
    my $live = $mock ? <<"_EOC_" : '';
    upbot_zone    faults:1m;
    upbot_cache   $cache;
    upbot_tim     f  sdkappid=1400000000 identifier=admin
                     key=faults-tim-key location=/_upbot/tim$o{app_extra};
    upbot_yunxin  f  appkey=faultsappkey secret=faults-yx-secret
                     location=/_upbot/yunxin/$o{app_extra};
_EOC_
    my $live_rows = $mock ? <<'_EOC_' : '';
        lt  tim:f     @TGS#f1  url=https://example.com/lt;
        ly  yunxin:f  17889/1  url=https://example.com/ly;
_EOC_
    my $locations = $mock ? <<"_EOC_" : '';
        location = /_upbot/tim {
            internal;
            proxy_pass  http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
            proxy_connect_timeout  2s;
            proxy_read_timeout     3s;
        }

        location /_upbot/yunxin/ {
            internal;
            proxy_pass  http://127.0.0.1:$mock/im/v2.1/teams/;
            proxy_connect_timeout  2s;
            proxy_read_timeout     3s;
        }
_EOC_

    return http_prelude(%o) . <<"_EOC_";

http {
$basics
    upbot_auth_tokens  tokens;
    upbot_event_log    $o{event_log};
    upbot_max_string_length  $o{max_string};
$live
    upbot_codes {
        st  static  g1  url=https://example.com/st name=static;
$live_rows    }

$o{http_extra}
    server {
        listen  127.0.0.1:$port;

        location = /m { upbot_get_media_info; }
        location = /e { upbot_report_media_event; }
$o{server_extra}
$locations    }
}
_EOC_
}

sub mock_fixtures {
    return {
        tim => { apps => { 1400000000 => { key => 'faults-tim-key',
                                            identifier => 'admin' } },
                 groups => { '@TGS#f1' => { Name => 'f1', MemberNum => 10,
                                            MaxMemberNum => 200 } } },
        yunxin => { apps => { faultsappkey => { secret => 'faults-yx-secret' } },
                    teams => { 17889 => { name => 'y1', member_count => 3,
                                          members_limit => 200 } } },
    };
}


# --- the event log -------------------------------------------------------

# Reads the files of an event log (in order) against the items the clients
# saw acknowledged (a hash of trace ids).  Returns counts: lines, invalid
# (not a JSON object of the log's shape, or a file not ending in a newline),
# duplicated (a trace id on more than one line), missing (acknowledged, on
# no line), extra (on a line, never acknowledged: cut connections).
my $plain_line = qr/^\{"received_ms":\d{13},"request_id":"[0-9a-f]{32}",
                    (?:"[a-z_]+":(?:"[^"\\\x00-\x1f\x7f-\xff]*"|\d+),)*
                    "trace_id":"([^"\\\x00-\x1f\x7f-\xff]*)"
                    (?:,"duration":\d+)?\}$/x;

sub check_event_logs {
    my ($files, $acked) = @_;
    my %seen;
    my %c = (lines => 0, invalid => 0, duplicated => 0, missing => 0,
             extra => 0);
    my $json = JSON::PP->new->utf8;

    for my $f (@$files) {
        my $text = slurp($f);
        next if $text eq '';
        $c{invalid}++ unless $text =~ /\n\z/;

        for my $line (split /\n/, $text) {
            $c{lines}++;

            # the load's lines: plain strings and integers, which this
            # pattern takes only as valid JSON; any other line is decoded
            if ($line =~ $plain_line) {
                $c{duplicated}++ if $seen{$1}++;
                next;
            }

            my $doc = eval { $json->decode($line) };
            if (ref $doc ne 'HASH' || !defined $doc->{trace_id}
                || ($doc->{request_id} // '') !~ /^[0-9a-f]{32}$/
                || ($doc->{received_ms} // '') !~ /^\d{13}$/)
            {
                $c{invalid}++;
                next;
            }
            $c{duplicated}++ if $seen{ $doc->{trace_id} }++;
        }
    }

    for my $id (keys %$acked) {
        $c{missing}++ unless $seen{$id};
    }
    for my $id (keys %seen) {
        $c{extra}++ unless $acked->{$id};
    }

    return \%c;
}


# the error log's verdict: no worker exited on a signal (but SIGNALS
# expected ones, e.g. the kills of a scenario), and the lines at alert,
# crit and emerg other than those
sub log_figures {
    my ($dir, %o) = @_;
    my $log = slurp("$dir/logs/error.log");
    my @signals = grep { /exited on signal/ } split /\n/, $log;
    my $expected = $o{signals} // 0;
    my @alerts = grep { /\[(alert|crit|emerg)\]/ && !/exited on signal 9\b/ }
                 split /\n/, $log;

    if ($o{signals}) {
        @signals = grep { !/exited on signal 9\b/ } @signals;
    }

    figure('workers that exited on a signal'
           . ($expected ? ' other than our kill -9' : ''),
           scalar @signals, '==', 0);
    print "    $_\n" for @signals[0 .. ($#signals < 2 ? $#signals : 2)];

    if (!$o{no_alerts}) {
        figure('alert, crit or emerg lines in the error log',
               scalar @alerts, '==', 0);
        print "    $_\n" for @alerts[0 .. ($#alerts < 2 ? $#alerts : 2)];
    }
}


# --- small things --------------------------------------------------------

sub percentile {
    my ($p, @v) = @_;
    return 0 unless @v;
    @v = sort { $a <=> $b } @v;
    my $i = int($p / 100 * @v + 0.999999) - 1;
    $i = 0 if $i < 0;
    $i = $#v if $i > $#v;
    return $v[$i];
}

sub slurp {
    my $f = shift;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return <$fh> // '';
}

sub write_file {
    my ($f, $text) = @_;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $text;
    close $fh or die "$f: $!";
}

END {
    if ($$ == $owner) {
        local $?;
        kill 'KILL', keys %kids;
        stop_nginx($_, 3) for keys %nginx_pids;
    }
}

1;
