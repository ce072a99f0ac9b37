package Test::Nginx::Socket;

# upbot's own runner for the subset of Test::Nginx::Socket's data format that
# its tests use, for machines without Test::Nginx (Debian does not package
# it).  `make test` puts util/tnlite on @INC only when the real module is
# absent.  Written for this project; see util/tnlite/README.md.

use strict;
use warnings;

use Test::Base ();
use Test::More ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use IO::Select ();
use Time::HiRes qw(sleep time);
use POSIX qw(:sys_wait_h);

our @ISA = ('Test::Base');

# Test::Base's import exports its own (Test::More's) functions as well
our @EXPORT = qw(
    run_tests repeat_each workers master_on master_off log_level
    no_shuffle no_long_string no_root_location add_block_preprocessor
    env_to_nginx config_preprocess
);

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT}
                                    || 't/servroot');

$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

my $Binary = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
my $RepeatEach = 1;
my $Workers = 1;
my $MasterOn = 0;
my $LogLevel = 'debug';
my $RootLocation = 1;
my @Preprocessors;
my @EnvToNginx;

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub workers { $Workers = shift }
sub master_on { $MasterOn = 1 }
sub master_off { $MasterOn = 0 }
sub log_level { $LogLevel = shift }
sub no_shuffle { }                   # blocks always run in file order here
sub no_long_string { }
sub no_root_location { $RootLocation = 0 }
sub add_block_preprocessor { push @Preprocessors, shift }
sub env_to_nginx { push @EnvToNginx, @_ }
sub config_preprocess { }


sub expand_env {
    my $s = shift;
    return $s unless defined $s && !ref $s;
    $s =~ s/\$(TEST_NGINX_[A-Za-z0-9_]+)/
            defined $ENV{$1} ? $ENV{$1} : "\$$1"/ge;
    return $s;
}


sub run_tests {
    my @blocks = Test::Base::blocks();

    my @only = grep { defined $_->{ONLY} || defined $_->ONLY } @blocks;
    @blocks = @only if @only;

    for my $block (@blocks) {
        $_->($block) for @Preprocessors;

        if (defined $block->SKIP) {
            Test::More::pass($block->name . " - skipped");
            next;
        }

        for my $rep (1 .. $RepeatEach) {
            run_block($block);
        }

        last if defined $block->LAST;
    }
}


sub conf_text {
    my $block = shift;

    my $workers = $block->workers // $Workers;
    my $master = ($MasterOn || $workers > 1) && !$Valgrind ? 'on' : 'off';
    my $level = $block->log_level // $LogLevel;
    my $daemon = $Valgrind ? 'off' : 'on';

    my $modules = join '', map { "load_module $_;\n" }
                  split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    # as Test::Nginx does: as root, workers run as root too, so they can
    # reopen logs under a directory "nobody" can't reach
    my $user = $> == 0 ? "user root;\n" : '';

    my $root = $RootLocation ? <<"_EOC_" : '';
        location / {
            root $ServRoot/html;
            index index.html index.htm;
        }
_EOC_

    my $conf = <<"_EOC_";
$modules
${user}worker_processes  $workers;
daemon            $daemon;
master_process    $master;
error_log         logs/error.log $level;
pid               logs/nginx.pid;
$env
@{[ $block->main_config // '' ]}

events {
    accept_mutex off;
    worker_connections 64;
}

http {
    access_log  logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;

@{[ $block->http_config // '' ]}

    server {
        listen  127.0.0.1:$ServerPort;
        server_name  localhost;
        client_max_body_size 30M;

@{[ $block->config // '' ]}

$root
    }
}
_EOC_

    return expand_env($conf);
}


sub write_user_files {
    my $block = shift;
    my $files = $block->user_files;

    return unless defined $files;

    my @files;

    if (ref $files eq 'ARRAY') {
        @files = map { [$_->[0], $_->[1]] } @$files;

    } else {
        for my $chunk (split /^>>> /m, $files) {
            next if $chunk eq '';
            my ($name, $content) = $chunk =~ /^(\S+)[^\n]*\n(.*)\z/s;
            push @files, [$name, $content // ''];
        }
    }

    for my $f (@files) {
        my $path = "$ServRoot/html/$f->[0]";
        my ($dir) = $path =~ m{^(.*)/};
        make_path($dir);
        open my $out, '>', $path or die "$path: $!";
        binmode $out;
        print $out expand_env($f->[1]);
        close $out;
    }
}


my $NginxPid;


sub start_nginx {
    my $block = shift;

    remove_tree($ServRoot);
    make_path("$ServRoot/conf", "$ServRoot/html", "$ServRoot/logs");

    open my $out, '>', "$ServRoot/conf/nginx.conf" or die $!;
    print $out conf_text($block);
    close $out;

    write_user_files($block);

    my @cmd = ($Binary, '-p', "$ServRoot/", '-c', 'conf/nginx.conf',
               '-e', 'logs/error.log');

    if ($Valgrind) {
        my @supp = -f 'valgrind.suppress'
                   ? ('--suppressions=valgrind.suppress') : ();
        @cmd = ('valgrind', '-q', '--leak-check=full',
                '--show-possibly-lost=no', '--num-callers=50',
                "--log-file=$ServRoot/logs/valgrind.log", @supp, @cmd);

        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', "$ServRoot/logs/stdout" or die $!;
            open STDERR, '>>', "$ServRoot/logs/stderr" or die $!;
            exec @cmd or exit 127;
        }

        # a config error ends the process at once
        for (1 .. 300) {
            if (waitpid($pid, WNOHANG) == $pid) {
                return $? >> 8 || 1;
            }
            last if port_open();
            sleep 0.1;
        }

        $NginxPid = $pid;
        return 0;
    }

    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$ServRoot/logs/stdout" or die $!;
        open STDERR, '>>', "$ServRoot/logs/stderr" or die $!;
        exec @cmd or exit 127;
    }
    waitpid($pid, 0);
    my $status = $? >> 8;
    return $status if $status;

    # daemonised: the master's pid is in the pid file
    for (1 .. 100) {
        if (open my $p, '<', "$ServRoot/logs/nginx.pid") {
            my $line = <$p>;
            if (defined $line && $line =~ /(\d+)/) {
                $NginxPid = $1;
                last;
            }
        }
        sleep 0.02;
    }

    for (1 .. 100) {
        last if port_open();
        sleep 0.02;
    }

    return 0;
}


sub port_open {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ServerPort, Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}


sub stop_nginx {
    my $name = shift;

    return unless $NginxPid;

    # TERM: a fast exit that still frees the cycle (valgrind's leak check)
    kill 'TERM', $NginxPid;

    my $deadline = time + ($Valgrind ? 60 : 10);
    while (time < $deadline) {
        if ($Valgrind) {
            last if waitpid($NginxPid, WNOHANG) == $NginxPid;
        } else {
            # nginx removes its pid file on the way out; a daemon's exit
            # may not be reaped promptly, so "kill 0" can lag behind
            last unless -e "$ServRoot/logs/nginx.pid" && kill 0, $NginxPid;
        }
        sleep 0.02;
    }

    kill 'KILL', $NginxPid if kill 0, $NginxPid;
    undef $NginxPid;

    if ($Valgrind && defined $name) {
        my $report = slurp("$ServRoot/logs/valgrind.log");
        Test::More::ok($report !~ /\S/, "$name - valgrind clean")
            or Test::More::diag($report);
    }
}


sub slurp {
    my $file = shift;
    open my $in, '<', $file or return '';
    binmode $in;
    local $/;
    return scalar <$in>;
}


sub as_list {
    my ($v, $n) = @_;
    return ref $v eq 'ARRAY' ? @$v : ($v) x $n;
}


sub build_request {
    my ($req, $headers) = @_;

    my ($first, $body) = $req =~ /\A\s*([^\n]*)\n?(.*)\z/s;
    my ($method, $uri, $ver) = split ' ', $first;
    $uri //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';

    my $head = "$method $uri $ver\r\nHost: localhost\r\n"
               . "Connection: close\r\n";
    my %given;

    for my $line (split /\n/, $headers // '') {
        next unless $line =~ /^\s*([^:\s]+)\s*:\s?(.*)$/;
        $given{lc $1} = 1;
        $head .= "$1: $2\r\n";
    }

    # as Test::Nginx does: a body it measures is trimmed of white space
    if (length $body && !$given{'content-length'}) {
        $body =~ s/^\s+|\s+$//gs;
        $head .= "Content-Length: " . length($body) . "\r\n";
    }

    return "$head\r\n$body";
}


sub send_request {
    my ($bytes, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ServerPort,
                                  Timeout => $timeout)
        or return (undef, "cannot connect: $!");

    binmode $s;
    my @chunks = ref $bytes eq 'ARRAY' ? @$bytes : ($bytes);
    for my $c (@chunks) {
        print $s $c;
    }

    my $sel = IO::Select->new($s);
    my $resp = '';
    my $deadline = time + $timeout;

    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }

    close $s;
    return ($resp, undef);
}


sub parse_response {
    my $resp = shift;

    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return unless defined $head && $head =~ m{^HTTP/\d\.\d (\d{3})};
    my $status = $1;
    my %h;

    for my $line ((split /\r\n/, $head)[1 .. 1000]) {
        last unless defined $line;
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = defined $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }

    $body //= '';

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $decoded = '';
        while ($body =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $size = hex $1;
            last if $size == 0;
            $decoded .= substr($body, 0, $size, '');
            $body =~ s/\A\r\n//;
        }
        $body = $decoded;

    } elsif (defined $h{'content-length'}) {
        $body = substr($body, 0, $h{'content-length'});
    }

    return ($status, \%h, $body, $head);
}


sub check_log {
    my ($block, $name, $log, $only) = @_;

    for my $pair (['error_log', 1], ['no_error_log', 0]) {
        my ($section, $want) = @$pair;
        next if $only && $section ne $only;
        my $v = $block->$section;
        next unless defined $v;

        my @pats = ref $v eq 'ARRAY' ? @$v
                 : ref $v eq 'Regexp' ? ($v)
                 : grep { /\S/ } split /\n/, $v;

        for my $p (@pats) {
            my $found = ref $p eq 'Regexp' ? $log =~ $p
                                           : index($log, $p) >= 0;
            my $ok = $want
                ? Test::More::ok($found, "$name - pattern \"$p\" matches a "
                                         . "line in error.log")
                : Test::More::ok(!$found, "$name - pattern \"$p\" does not "
                                          . "match a line in error.log");

            # show the end of the log, where the reason usually is
            if (!$ok) {
                my @lines = split /\n/, $log;
                splice @lines, 0, -20 if @lines > 20;
                Test::More::diag("error.log ends with:\n"
                                 . join("\n", @lines));
            }
        }
    }
}


sub compare_body {
    my ($name, $got, $want) = @_;

    return Test::More::pass("$name - response_body - response is expected")
        if defined $got && $got eq $want;

    Test::More::fail("$name - response_body - response is expected");

    if (eval { require Text::Diff; 1 }) {
        Test::More::diag(Text::Diff::diff(\$want, \($got // ''),
                                          { STYLE => 'Unified' }));
    } else {
        Test::More::diag("got:\n" . ($got // '') . "\nexpected:\n$want");
    }
}


sub run_block {
    my $block = shift;
    my $name = $0 . " " . $block->name;
    $name =~ s{^.*/}{};

    my $rc = start_nginx($block);

    if (defined $block->must_die) {
        Test::More::isnt($rc, 0, "$name - die as expected");
        stop_nginx() if $rc == 0;
        check_log($block, $name, slurp("$ServRoot/logs/error.log")
                                 . slurp("$ServRoot/logs/stderr"));
        return;
    }

    if ($rc != 0) {
        Test::More::fail("$name - nginx starts");
        Test::More::diag(slurp("$ServRoot/logs/stderr")
                         . slurp("$ServRoot/logs/error.log"));
        return;
    }

    my $timeout = $block->timeout // ($Valgrind ? 30 : 5);
    my ($requests, $raw);

    if (defined $block->raw_request) {
        # an array here is one request sent in pieces
        $raw = $block->raw_request;
        $requests = [$raw];

    } else {
        my $r = $block->request // '';
        $requests = ref $r eq 'ARRAY' ? $r : [$r];
    }

    my $n = @$requests;
    my @headers = as_list(scalar $block->more_headers, $n);
    my @codes = as_list($block->error_code // 200, $n);
    my @bodies = defined $block->response_body
                 ? as_list(scalar $block->response_body, $n) : ();
    my @likes = defined $block->response_body_like
                ? as_list(scalar $block->response_body_like, $n) : ();

    for my $i (0 .. $n - 1) {
        my $bytes = defined $raw ? expand_env_deep($requests->[$i])
                  : build_request(expand_env($requests->[$i]),
                                  expand_env($headers[$i]));

        my ($resp, $err) = send_request($bytes, $timeout);
        my ($status, $h, $body, $head) = parse_response($resp // '');

        if (!defined $status) {
            Test::More::fail("$name - status code ok");
            Test::More::diag($err // "no valid response: " . ($resp // ''));
            next;
        }

        Test::More::is($status, $codes[$i], "$name - status code ok");

        check_headers($block, $name, $h, $head, $i, $n);

        compare_body($name, $body, $bodies[$i]) if @bodies;

        if (@likes) {
            my $p = $likes[$i];
            $p = qr/$p/s unless ref $p eq 'Regexp';
            Test::More::like($body, $p, "$name - response_body_like - "
                                        . "response is expected");
        }

        # as Test::Nginx does: a block of several requests must show its
        # error_log lines from the first request on
        if ($n > 1 && defined $block->error_log) {
            check_log($block, "$name (req $i)",
                      slurp("$ServRoot/logs/error.log"), 'error_log');
        }
    }

    sleep($block->wait // 0.05);
    stop_nginx($name);

    my $log = slurp("$ServRoot/logs/error.log");
    check_log($block, $name, $log);
}


sub expand_env_deep {
    my $v = shift;
    return ref $v eq 'ARRAY' ? [map { expand_env($_) } @$v] : expand_env($v);
}


sub check_headers {
    my ($block, $name, $h, $head, $i, $n) = @_;

    for my $section (qw(response_headers response_headers_like)) {
        my $v = $block->$section;
        next unless defined $v;
        my @per = as_list($v, $n);
        my $like = $section =~ /_like$/;

        for my $line (split /\n/, $per[$i] // '') {
            next unless $line =~ /\S/;

            if ($line =~ /^\s*!\s*(\S+)/) {
                Test::More::ok(!defined $h->{lc $1},
                               "$name - header $1 not present");
                next;
            }

            my ($k, $want) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/
                or next;
            my $got = $h->{lc $k};

            if ($like) {
                Test::More::like($got // '', qr/$want/s,
                                 "$name - header $k like ok");
            } else {
                Test::More::is($got // '', $want, "$name - header $k ok");
            }
        }
    }

    if (defined(my $v = $block->raw_response_headers_like)) {
        my @per = as_list($v, $n);
        my $p = $per[$i];
        $p = qr/$p/s unless ref $p eq 'Regexp';
        Test::More::like($head, $p,
                         "$name - raw resp headers like");
    }
}


1;
