# 014_failover.pl: the primary fails in the middle of a worker round, a streaming standby is
# promoted, and the worker on the new primary finishes the work: every item ends accepted with
# exactly one history row per transition, none lost, none twice.
#
# 150 processing processes, each final after 6 GETs, GETs slowed to 30 ms. The standby streams
# from the primary (the worker starts only once recovery has finished, so it does not run there).
# Once some transitions are committed and polls are in flight, the primary is stopped in immediate
# mode (a crash) and the standby promoted. Transitions the standby never received are seen again
# by the new worker and recorded there once; those it did receive are not recorded twice.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 6 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', delay_ms => 30, count => -1 });

my $primary = new_node('primary', '', allows_streaming => 1);
wait_until('the worker runs on the primary', 30, sub { worker_pid($primary) })
  or die('no signicat worker');
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
my $slog0 = log_offset($standby);
is(worker_pid($standby), undef, 'no worker runs on the standby');

seed_and_watch($primary, 150);
wait_mid_round($primary);
my $rows_primary = query($primary, 'SELECT count(*) FROM signicat.status_history');
note "the primary recorded $rows_primary history rows before it failed";

$primary->stop('immediate');
$standby->promote;
wait_until('a worker runs on the promoted standby', 60, sub { worker_pid($standby) });
ok(defined worker_pid($standby), 'the worker started on the new primary');
my $rows_received = query($standby, 'SELECT count(*) FROM signicat.status_history');
note "the standby had received $rows_received of them";

mock('DELETE', '/__mock/faults');
wait_query($standby, 'every item is done on the new primary', 90,
	q{SELECT count(*) = 150 FROM signicat.watch WHERE state = 'done'});
check_history($standby, items => 150, final => 'accepted',
	# an item whose processing was seen only by the old primary may be seen accepted at once
	paths => [ 'NULL>processing>accepted', 'NULL>accepted' ]);
check_no_crash($standby, $slog0);

done_testing();
