package NginxMain;

# The top of an nginx.conf that a test writes by hand (one whose clients run
# concurrently, which Test::Nginx's data format can't express): the modules
# under test, and "user root;" when the test runs as root, as Test::Nginx
# adds.  Without it the workers run as "nobody", who may not reach a clone
# under a 0700 directory (mktemp -d) to reopen a log after USR1.

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(main_prelude);

sub main_prelude {
    my $modules = join '', map { "load_module $_;\n" }
                  split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $user = $> == 0 ? "user root;\n" : '';
    return $modules . $user;
}

1;
