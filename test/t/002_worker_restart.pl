# 002_worker_restart.pl: restart the server (fast shutdown) in the middle of a worker round.
#
# As 001_worker_kill.pl, but the worker is ended by a fast shutdown (SIGTERM) while polls are in
# flight, and the server then starts again: the new worker must void the old leases, and every
# item must still end accepted with exactly one history row per transition.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time);

interrupt_mid_round('worker_restart', 'the restart', sub {
	my ($node, $pid) = @_;
	my $t0 = time;

	$node->restart;    # pg_ctl restart: fast shutdown
	my $took = time - $t0;
	note sprintf('restart took %.1f s', $took);
	# (the bound is generous but below signicat.timeout, 30 s: a worker that sat out its requests,
	# or ignored SIGTERM, would reach it)
	cmp_ok($took, '<', 25, 'the worker let a fast shutdown finish promptly');
});

done_testing();
