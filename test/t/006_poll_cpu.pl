# 006_poll_cpu.pl: the worker must not spin while it waits for slow answers.
#
# 200 items that stay processing, every GET delayed 30 ms by the mock, 4 connections and
# batches of 50: most of a round is spent waiting with all 4 connections busy and more requests
# queued. Waiting should cost next to no CPU; we measure the worker's CPU time over 3 s.
#
# (signicat_poll_many once waited with a zero timeout while requests were queued and the pool was
# full, and so spun at about 2/3 of a core here.)

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use PostgreSQL::Test::Utils;
use POSIX ();
use Test::More;
use Time::HiRes qw(time usleep);

plan skip_all => 'needs /proc' unless -r "/proc/$$/stat";

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 1000 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', delay_ms => 30, count => -1 });

my $node = new_node('poll_cpu');
my $pid;
wait_until('the worker runs', 30, sub { $pid = worker_pid($node) }) or die('no signicat worker');
seed_and_watch($node, 200);
wait_query($node, 'the worker is polling', 30,
	q{SELECT in_flight > 0 FROM signicat.worker_status});

my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my $cpu = sub {
	my @f = split ' ', (slurp_file("/proc/$pid/stat") =~ /\)\s+(.*)$/s)[0];
	return ($f[11] + $f[12]) / $tck;    # utime + stime (fields 14 and 15)
};
my ($c0, $t0) = ($cpu->(), time);
sleep 3;
my ($c1, $t1) = ($cpu->(), time);
my $share = ($c1 - $c0) / ($t1 - $t0);
my ($rounds, $polled) = split /\|/, query($node,
	'SELECT rounds, polled FROM signicat.worker_status');
note sprintf('worker CPU %.2f s in %.2f s (%.0f%% of a core); %s rounds, %s polls so far',
	$c1 - $c0, $t1 - $t0, 100 * $share, $rounds, $polled);
cmp_ok($polled, '>', 200, 'the worker kept polling');

cmp_ok($share, '<', 0.25, 'waiting for slow answers costs less than 25% of a core');

done_testing();
