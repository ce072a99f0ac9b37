package NginxMain;

# For the tests that write their own nginx.conf (their clients run
# concurrently, which Test::Nginx's data format can't express): the top of
# that file, and the port to listen on.

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(main_prelude base_port);

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

1;
