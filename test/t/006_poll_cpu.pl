# 006_poll_cpu.pl: the worker must not spin while it waits for slow answers.
#
# 200 items that stay processing, every GET delayed 200 ms by the mock, 4 connections and
# batches of 50: nearly all of a round is spent waiting with all 4 connections busy and more
# requests queued. Waiting should cost next to no CPU, so we compare the worker's CPU time with
# the polls it made meanwhile, not with the clock: the test waits for 100 polls (however long the
# machine takes) and divides.
#
# A worker that spins while its pool is full burns CPU for the whole 200 ms that each group of 4
# requests waits: 50 ms of CPU per poll if it has a core to itself, still more than 15 ms with a
# third of one. One that waits on its sockets spends well under 1 ms per poll here (parsing the
# answer and recording it), and less than that on any machine fast enough to run the suite. The
# bound, 5 ms per poll, is far from both. (signicat_poll_many once waited with a zero timeout
# while requests were queued and the pool was full, and spun at about 2/3 of a core.)
#
# Speed figures (polls per second) are the benchmark's business: bench/run.sh, figure 3.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use PostgreSQL::Test::Utils;
use POSIX ();
use Test::More;

plan skip_all => 'needs /proc' unless -r "/proc/$$/stat";

my $POLLS = 100;              # polls to watch
my $BOUND_MS = 5;             # CPU per poll, milliseconds

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 1000 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', delay_ms => 200, count => -1 });

my $node = new_node('poll_cpu');
my $pid;
wait_until('the worker runs', 30, sub { $pid = worker_pid($node) }) or die('no signicat worker');
seed_and_watch($node, 200);
wait_query($node, 'the worker is polling', 60,
	q{SELECT in_flight > 0 FROM signicat.worker_status})
  or die('the worker never started polling');

my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my $cpu = sub {
	my @f = split ' ', (slurp_file("/proc/$pid/stat") =~ /\)\s+(.*)$/s)[0];
	return ($f[11] + $f[12]) / $tck;    # utime + stime (fields 14 and 15), seconds
};
my $polled = sub { query($node, 'SELECT polled FROM signicat.worker_status') };

my ($c0, $p0) = ($cpu->(), $polled->());
my $p1;
# generous: at 200 ms per request and 4 connections, 100 polls take 5 s on an idle machine
ok(wait_until("the worker made $POLLS more polls", 180,
		sub { ($p1 = $polled->()) >= $p0 + $POLLS }),
	'the worker kept polling');
my $c1 = $cpu->();
my $per_poll_ms = 1000 * ($c1 - $c0) / ($p1 - $p0);
note sprintf('worker CPU %.2f s for %d polls: %.2f ms per poll (bound %d ms)',
	$c1 - $c0, $p1 - $p0, $per_poll_ms, $BOUND_MS);
cmp_ok($per_poll_ms, '<', $BOUND_MS,
	"waiting for slow answers costs less than $BOUND_MS ms of CPU per poll");
is(worker_pid($node), $pid, 'the same worker did all of it');

done_testing();
