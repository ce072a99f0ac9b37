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
use List::Util qw(shuffle);
use Scalar::Util qw(looks_like_number);

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
my $MasterOn = ($ENV{TEST_NGINX_MASTER_PROCESS} // 'off') eq 'on';
my $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
my $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE};
# as Test::Nginx: the longest wait between two reads of an answer
my $Timeout = $ENV{TEST_NGINX_TIMEOUT} || ($Valgrind ? 30 : 3);
my $RootLocation = 1;
my @Preprocessors;
my @EnvToNginx;

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub workers { $Workers = shift }
sub master_on { $MasterOn = 1 }
sub master_off { $MasterOn = 0 }
sub log_level { $LogLevel = shift }
sub no_shuffle { $NoShuffle = 1 }
sub no_long_string { }
sub no_root_location { $RootLocation = 0 }
sub add_block_preprocessor { push @Preprocessors, shift }
sub env_to_nginx { push @EnvToNginx, @_ }
sub config_preprocess { }


# as Test::Nginx: only the configuration sections, user_files and
# response_body are expanded, and a variable that is not set is an error
sub expand_env {
    my ($s, $name) = @_;
    return $s unless defined $s && !ref $s;
    $s =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/
            defined $ENV{$1} ? $ENV{$1}
                             : bail_out("$name - No environment $1 defined.")/ge;
    return $s;
}


sub bail_out {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}


sub run_tests {
    my @blocks = Test::Base::blocks();

    my @only = grep { defined $_->{ONLY} || defined $_->ONLY } @blocks;
    @blocks = @only if @only;

    # as Test::Nginx: in random order, unless no_shuffle() or
    # TEST_NGINX_NO_SHUFFLE=1
    @blocks = shuffle @blocks unless $NoShuffle;

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
    # as Test::Nginx: one process unless master_on(), whatever workers() says
    my $master = $MasterOn && !$Valgrind ? 'on' : 'off';
    my $level = $block->log_level // $LogLevel;
    my $daemon = $Valgrind ? 'off' : 'on';

    my $modules = join '', map { "load_module $_;\n" }
                  split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    # as Test::Nginx does: as root, workers run as root too, so they can
    # reopen logs under a directory "nobody" can't reach
    my $user = $> == 0 ? "user root;\n" : '';

    my $name = $block->name;
    my $main = expand_env($block->main_config // '', $name);
    my $http = expand_env($block->http_config // '', $name);
    my $server = expand_env($block->config // '', $name);

    # as Test::Nginx: the temp files under the server root, for the
    # modules the binary has
    my $temp = join '', map { "    ${_}_temp_path $ServRoot/${_}_temp;\n" }
                        grep { $http !~ /\b${_}_temp_path\b/
                               && nginx_V() !~ /--without-http_${_}_module/ }
                        qw(client_body proxy fastcgi scgi uwsgi);

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
$main

events {
    accept_mutex off;
    worker_connections 64;
}

http {
    access_log  logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;
$temp
$http

    server {
        listen  127.0.0.1:$ServerPort;
        server_name  localhost;
        client_max_body_size 30M;

$server

$root
    }
}
_EOC_

    return $conf;
}


my $NginxV;

sub nginx_V {
    $NginxV //= `$Binary -V 2>&1` // '';
    return $NginxV;
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
        print $out expand_env($f->[1], $block->name);
        close $out;
    }
}


my $NginxPid;
my $LogPos = 0;         # how far the block's error log has been read


sub start_nginx {
    my $block = shift;

    # as Test::Nginx: what it makes there goes, and anything else is an
    # error, not to be removed
    if (-d $ServRoot) {
        remove_tree((map { "$ServRoot/$_" } qw(conf html logs cache)),
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    make_path("$ServRoot/conf", "$ServRoot/html", "$ServRoot/logs");
    $LogPos = 0;

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
            # as Test::Nginx, until the process has gone, not its pid file:
            # nginx removes that before its modules' exit hooks run (the
            # state file's last write); a daemon's exit may not be reaped
            # promptly, so a zombie counts as gone
            last unless kill(0, $NginxPid)
                        && (slurp("/proc/$NginxPid/stat") // "")
                           =~ /^\d+ \(.*\) [^Z]/s;
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


# as Test::Nginx: with several requests, every expected value is an array
sub indexed {
    my ($name, $v, $i, $need_array) = @_;

    if ($need_array) {
        return $v->[$i] if ref $v eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected "
                 . "results should be arrays as well.");
    }

    return ref $v eq 'ARRAY' ? $v->[0] : $v;
}


# as Test::Nginx's parse_more_headers
sub more_headers {
    my $in = shift // '';
    my $out = '';
    my $chunked;

    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v //= '';
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }

    return ($out, $chunked);
}


sub build_request {
    my ($name, $req, $headers) = @_;

    # as Test::Nginx: leading white space and "#" lines go
    1 while $req =~ s/^\s*\#[^\n]+\s+|^\s+//gs;

    my ($first, $body) = $req =~ /\A([^\n]*)\n?(.*)\z/s;
    bail_out("$name - Request line should be non-empty") if $first eq '';
    my ($method, $uri, $ver) = split ' ', $first;
    $uri //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';

    my ($more, $chunked) = more_headers($headers);
    my $head = "$method $uri $ver\r\n";
    $head .= "Host: localhost\r\n" if $more !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: close\r\n" if $more !~ /(?:^|\n)Connection/msi;
    $head .= $more;

    # a body it measures is trimmed of white space
    if (!$chunked && $body ne '' && $more !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $head .= "Content-Length: " . length($body) . "\r\n";
    }

    return "$head\r\n$body";
}


# as Test::Nginx: the timeout is the longest wait between two reads, and
# running into it fails the test (unless "--- abort")
sub send_request {
    my ($name, $block, $bytes, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ServerPort,
                                  Timeout => $timeout);

    if (!$s) {
        Test::More::fail("$name - Can't connect to 127.0.0.1:$ServerPort: "
                         . "$! (aborted)");
        return undef;
    }

    binmode $s;
    my @chunks = ref $bytes eq 'ARRAY' ? @$bytes : ($bytes);
    for my $c (@chunks) {
        print $s $c;
    }

    my $sel = IO::Select->new($s);
    my $resp = '';

    while (1) {
        if (!$sel->can_read($timeout)) {
            Test::More::fail("ERROR: client socket timed out - $name")
                unless defined $block->abort;
            last;
        }
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }

    close $s;
    return $resp;
}


sub parse_response {
    my $resp = shift;

    # as Test::Nginx: the raw headers are the status line and the header
    # lines, each with its CRLF
    my ($head) = $resp =~ /\A(.*?\r\n)\r\n/s;
    return unless defined $head && $head =~ m{^HTTP/\d\.\d (\d{3})};
    my $status = $1;
    my $body = substr($resp, length($head) + 2);
    my %h;

    for my $line ((split /\r\n/, $head)[1 .. 1000]) {
        last unless defined $line;
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = defined $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }

    if (($h{'transfer-encoding'} // '') eq 'chunked') {
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


# as Test::Nginx: the error log's lines since the last look, after a moment
# for those logged once the answer went out
sub log_lines {
    sleep($Valgrind ? 0.5 : 0.045);

    open my $in, '<', "$ServRoot/logs/error.log" or return [];
    binmode $in;
    seek $in, $LogPos, 0;
    my @lines = <$in>;
    $LogPos = tell $in;
    close $in;

    return \@lines;
}


sub patterns {
    my $v = shift;

    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    return grep { defined } @$v if ref $v eq 'ARRAY';

    chomp $v;
    return split /\n+/, $v;
}


# as Test::Nginx: each pattern against each line, over the given lines
sub check_log {
    my ($block, $name, $lines) = @_;

    my $matches = sub {
        my $p = shift;
        return grep { (ref $p && $_ =~ /$p/) || $_ =~ /\Q$p\E/ } @$lines;
    };

    my $ended = sub {
        my @l = @$lines;
        splice @l, 0, -20 if @l > 20;
        Test::More::diag("error.log ends with:\n" . join('', @l));
    };

    for my $p (patterns($block->error_log)) {
        Test::More::ok(scalar $matches->($p),
                       "$name - pattern \"$p\" matches a line in error.log")
            or $ended->();
    }

    for my $p (patterns($block->no_error_log)) {
        my ($line) = $matches->($p);
        Test::More::ok(!defined $line, "$name - pattern \"$p\" does not "
                                       . "match a line in error.log")
            or Test::More::diag("it matches: $line");
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
        my $want = $block->must_die;

        if (looks_like_number($want)) {
            Test::More::is($want, $rc,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($rc, 0, "$name - die as expected");
        }

        stop_nginx() if $rc == 0;
        # as Test::Nginx: the error log only (nginx's stderr is not read)
        check_log($block, $name, log_lines());
        return;
    }

    if ($rc != 0) {
        Test::More::fail("$name - nginx starts");
        Test::More::diag(slurp("$ServRoot/logs/stderr")
                         . slurp("$ServRoot/logs/error.log"));
        return;
    }

    my $timeout = $Timeout;

    if (defined(my $t = $block->timeout)) {
        $t =~ /^\s*(\d+(?:\.\d*)?)\s*(ms|s)?\s*$/
            or bail_out("$name - bad --- timeout: $t");
        $timeout = ($2 // 's') eq 'ms' ? $1 / 1000 : $1;
    }
    my $requests;

    if (defined $block->raw_request) {
        # an array here is one request sent in pieces
        $requests = [$block->raw_request];

    } else {
        my $r = $block->request // '';
        $requests = ref $r eq 'ARRAY' ? $r : [$r];
    }

    my $n = @$requests;
    my $need_array = $n > 1;
    my $headers = $block->more_headers;

    for my $i (0 .. $n - 1) {
        my $bytes = $requests->[$i];

        if (!defined $block->raw_request) {
            my $h = ref $headers eq 'ARRAY' ? $headers->[$i] : $headers;
            bail_out("$name - --- more_headers lacks data for the ${i}th "
                     . "request") if ref $headers eq 'ARRAY' && !defined $h;
            $bytes = build_request($name, $bytes, $h);
        }

        my $resp = send_request($name, $block, $bytes, $timeout);
        my ($status, $h, $body, $head) = parse_response($resp // '');

        if (!defined $status) {
            Test::More::fail("$name - status code ok");
            Test::More::diag("no valid response: " . ($resp // ''));

        } else {
            check_status($block, $name, $status, $i, $need_array);
            check_headers($block, $name, $h, $head, $i, $need_array);
            check_body($block, $name, $body, $i, $need_array);
        }

        # as Test::Nginx: after each request, the log lines it added
        if ($i < $n - 1) {
            sleep $block->wait if $block->wait;
            check_log($block, "$name (req $i)", log_lines());
        }
    }

    sleep $block->wait if $block->wait;
    check_log($block, $name, log_lines());

    stop_nginx($name);
}


sub check_status {
    my ($block, $name, $status, $i, $need_array) = @_;

    if (defined $block->error_code_like) {
        my $p = indexed($name, $block->error_code_like, $i, $need_array);
        Test::More::like($status, qr/$p/sm, "$name - status code ok");
        return;
    }

    my $want = defined $block->error_code
               ? indexed($name, $block->error_code, $i, $need_array) : 200;
    Test::More::is($status, $want, "$name - status code ok");
}


sub check_body {
    my ($block, $name, $body, $i, $need_array) = @_;

    # as Test::Nginx: response_body, or else response_body_like, or else
    # response_body_unlike; a block with two of them would have Test::Nginx
    # check the first only, so it is refused here
    my @given = grep { defined $block->$_ }
                qw(response_body response_body_like response_body_unlike);
    die "$name: both $given[0] and $given[1]: Test::Nginx checks only the "
        . "$given[0]\n" if @given > 1;

    if (defined $block->response_body) {
        my $want = indexed($name, $block->response_body, $i, $need_array);

        if (ref $want) {
            Test::More::like($body, $want, "$name - response_body - like");
            return;
        }

        $want =~ s/\$ServerPort\b/$ServerPort/g;
        compare_body($name, $body, expand_env($want, $name));

    } elsif (defined $block->response_body_like) {
        my $p = indexed($name, $block->response_body_like, $i, $need_array);
        $p =~ s/\$ServerPort\b/$ServerPort/g;
        Test::More::like($body, qr/$p/s, "$name - response_body_like - "
                                         . "response is expected");

    } elsif (defined $block->response_body_unlike) {
        my $p = indexed($name, $block->response_body_unlike, $i, $need_array);
        $p =~ s/\$ServerPort\b/$ServerPort/g;
        Test::More::unlike($body, qr/$p/s, "$name - response_body_unlike - "
                                           . "response is expected");
    }
}


# as Test::Nginx's parse_headers: "Name: value" or "!Name", one a line,
# the last of a name counting
sub header_lines {
    my $v = shift // '';
    my (@order, %want);

    for my $line (split /\n/, $v) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my $neg = $line =~ s/^!\s*//;
        # a name alone, as "!Name", is one that must be absent
        my ($k, $val) = $neg ? ($line, undef) : split /\s*:\s*/, $line, 2;
        push @order, $k unless exists $want{$k};
        $want{$k} = $val;
    }

    return map { [$_, $want{$_}] } @order;
}


sub check_headers {
    my ($block, $name, $h, $head, $i, $need_array) = @_;

    # as Test::Nginx: response_headers, or else response_headers_like,
    # whose values match whole ("^value$")
    if (defined $block->response_headers) {
        my $v = indexed($name, $block->response_headers, $i, $need_array);

        for my $kv (header_lines($v)) {
            my ($k, $want) = @$kv;

            if (!defined $want) {
                Test::More::unlike($head, qr/^\s*\Q$k\E\s*:/ms,
                                   "$name - header $k not present in the "
                                   . "raw headers");
                next;
            }

            $want =~ s/\$ServerPort\b/$ServerPort/g;
            Test::More::is($h->{lc $k} // '', $want, "$name - header $k ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $v = indexed($name, $block->response_headers_like, $i,
                        $need_array);

        for my $kv (header_lines($v)) {
            my ($k, $want) = @$kv;
            Test::More::like($h->{lc $k} // '', qr/^$want$/,
                             "$name - header $k like ok");
        }
    }

    if (defined(my $v = $block->raw_response_headers_like)) {
        my $p = indexed($name, $v, $i, $need_array);
        Test::More::like($head, qr/$p/s, "$name - raw resp headers like");
    }
}


1;
