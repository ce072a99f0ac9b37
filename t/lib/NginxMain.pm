package NginxMain;

# For the tests that write their own nginx.conf (their clients run
# concurrently, which Test::Nginx's data format can't express): the top of
# that file, the port to listen on, and the few file and HTTP helpers they
# share.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use Test::More ();
use POSIX ();
use Time::HiRes qw(sleep);

our @EXPORT = qw(main_prelude nginx_conf base_port write_file slurp
                 wait_for_pid
                 post_events post_media_info post_side_by_side
                 get_body reload_to);

# the suite's port, as Test::Nginx and the mock take it; a test listens on
# base_port() + its own offset
sub base_port {
    return $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

# the modules under test, and "user root;" when the test runs as root, as
# Test::Nginx adds: without it the workers run as "nobody", who may not reach
# a clone under a 0700 directory (mktemp -d) to reopen a log after USR1
sub main_prelude {
    my $modules = join '', map { "load_module $_;\n" }
                  split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $user = $> == 0 ? "user root;\n" : '';
    return $modules . $user;
}


# the whole nginx.conf of such a test: the modules, the test's main =>
# text, four daemonized workers (workers =>), the error log at info, and an
# http block with no access log, temporary files under root =>, the test's
# http => text, and a server on 127.0.0.1:port => (reuseport: the workers
# share the connections; reuseport => 0 for a binary upgrade, whose new
# master inherits the old one's sockets) with the test's server => text
# and "location = /gen", which answers gen =>, for reload_to()
sub nginx_conf {
    my (%opt) = @_;
    my $workers = $opt{workers} // 4;
    my $gen = $opt{gen} // 1;
    my $server = $opt{server} // '';
    my $main = $opt{main} // '';
    my $reuseport = ($opt{reuseport} // 1) ? ' reuseport' : '';

    return main_prelude() . <<"_EOC_";
$main
worker_processes  $workers;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  512;
}

http {
    access_log  off;
    client_body_temp_path  $opt{root}/body;
    proxy_temp_path        $opt{root}/proxy;

$opt{http}
    server {
        listen  127.0.0.1:$opt{port}$reuseport;

$server
        location = /gen {
            return 200 "$gen";
        }
    }
}
_EOC_
}


sub write_file {
    my ($file, $text) = @_;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
}

# a file's bytes, or '' when it does not exist (yet)
sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return '';
    local $/;
    return <$fh> // '';
}

# the pid a daemon writes to $file once it runs
sub wait_for_pid {
    my ($file) = @_;
    for (1 .. 200) {
        return $1 if slurp($file) =~ /(\d+)/;
        sleep 0.05;
    }
    Test::More::BAIL_OUT("no pid in $file");
}

# a ReportMediaEvent batch to "location = /e" with the token "t0k3n", as the
# tests that use it configure; the whole answer, or '' when none came
sub post_events {
    my ($port, $body) = @_;
    return post_api($port, '/e', $body);
}

# a GetMediaInfo body to "location = /m", likewise
sub post_media_info {
    my ($port, $body) = @_;
    return post_api($port, '/m', $body);
}

# the answer is read to its Content-Length, not to the connection's end: a
# refresh in the background keeps the connection open after the answer
# GetMediaInfo bodies posted side by side, [body, seconds after the start]
# each, from processes of their own; the whole answers, and when each
# ended, in seconds after the start
sub post_side_by_side {
    my ($port, @specs) = @_;
    my (@kids, @out);
    my $start = Time::HiRes::time();

    for my $spec (@specs) {
        pipe(my $r, my $w) or die $!;
        my $pid = fork // die $!;

        if ($pid == 0) {
            close $r;
            my $at = $start + $spec->[1];
            my $now = Time::HiRes::time();
            sleep($at - $now) if $at > $now;
            my $resp = post_media_info($port, $spec->[0]);
            printf $w "%.3f\n%s", Time::HiRes::time() - $start, $resp;
            close $w;
            POSIX::_exit(0);
        }

        close $w;
        push @kids, [$pid, $r];
    }

    for my $k (@kids) {
        my $fh = $k->[1];
        local $/;
        my $all = <$fh> // '';
        waitpid($k->[0], 0);

        my ($end, $resp) = $all =~ /\A([\d.]+)\n(.*)\z/s;
        push @out, { end => $end // 99, answer => $resp // '' };
    }

    return @out;
}

sub post_api {
    my ($port, $path, $body) = @_;
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 10);
        if (!$s) {
            sleep 0.05;      # the server is still starting
            next;
        }
        print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
               . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
               . "Content-Length: " . length($body) . "\r\n"
               . "Connection: close\r\n\r\n" . $body;
        my $resp = '';
        while (1) {
            my $n = sysread($s, $resp, 65536, length $resp);
            last unless $n;
            my ($head) = $resp =~ /\A(.*?\r\n\r\n)/s or next;
            my ($len) = $head =~ /^Content-Length: (\d+)\r$/mi or next;
            last if length($resp) >= length($head) + $len;
        }
        return $resp;
    }
    return '';
}

# a GET's body ('' when none came)
sub get_body {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5) or return '';
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    return $resp =~ /\r\n\r\n(.*)\z/s ? $1 : '';
}

# a HUP to $master, then wait until every worker answers "location = /gen"
# with the new configuration's $gen; false when they never do
sub reload_to {
    my ($master, $port, $gen) = @_;
    kill 'HUP', $master or die "HUP: $!";

    for (1 .. 100) {
        sleep 0.1;
        my $all = 1;
        for (1 .. 8) {
            $all = 0 if get_body($port, '/gen') ne $gen;
        }
        return 1 if $all;
    }

    return 0;
}

1;
