# 011_secret_file.pl: the client secret from signicat.client_secret_file, the route that never
# passes through SQL, pg_db_role_setting, pg_stat_activity or the server log.
#
# The file works when only the server can read it (0600, owned by the server's user); a file
# with group or world access, a missing file, an empty file and both settings at once are clear
# errors that name the file but never show the secret; a rotated secret is read for the next token.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_mock();
my $node = new_node('secret_file');
my $log0 = log_offset($node);
my $dir = PostgreSQL::Test::Utils::tempdir('secret');
my $SECRET = 'test-secret';    # what the mock expects

# set(SETTING => VALUE, ...): ALTER SYSTEM, reload, and wait until a new session sees them
my $set = sub {
	my %kv = @_;
	query($node, join('', map { "ALTER SYSTEM SET $_ = '$kv{$_}';\n" } sort keys %kv));
	query($node, 'SELECT pg_reload_conf()');
	for my $name (sort keys %kv)
	{
		wait_until("$name is '$kv{$name}' in new sessions", 30,
			sub { query($node, "SHOW $name") eq $kv{$name} }) or die "reload of $name";
	}
};
# call(): one API call in a new session; (sqlstate, message) of its error, or ('ok')
my $call = sub {
	my ($rc, $out, $err) = $node->psql('postgres', q{
		DO $$ BEGIN PERFORM signicat.assure_create_dossier('secret-file');
		RAISE NOTICE 'result: ok';
		EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'result: % %', SQLSTATE, SQLERRM; END $$});
	my ($result) = ($err // '') =~ /result: (.*)/;
	return $result // "no result: $err";
};
my $write = sub {
	my ($name, $content, $mode) = @_;
	my $path = "$dir/$name";
	PostgreSQL::Test::Utils::append_to_file($path, $content);
	chmod($mode, $path) or die "chmod $path: $!";
	return $path;
};
my $tokens = sub { mock('GET', '/__mock/tokens')->{issued} };

# the file, and no secret in the settings
my $good = $write->('good', "$SECRET\n", 0600);
$set->('signicat.client_secret' => '', 'signicat.client_secret_file' => $good);
my $t0 = $tokens->();
is($call->(), 'ok', 'a secret file readable by the server only (0600) works');
is($tokens->(), $t0 + 1, 'a token was fetched with the secret from the file');

# group or world access: refused, the file named, the secret never shown
my $open = $write->('open', "$SECRET\n", 0644);
$set->('signicat.client_secret_file' => $open);
my $r = $call->();
like($r, qr/^F0000 signicat.client_secret_file "\Q$open\E" has group or world access/,
	'a file with group or world access is refused (F0000)');
unlike($r, qr/\Q$SECRET\E/, '... and the message does not show the secret');

$set->('signicat.client_secret_file' => "$dir/missing");
like($call->(), qr/^58P01 could not access signicat.client_secret_file "\Q$dir\E\/missing"/,
	'a missing file is 58P01, naming the file');

my $empty = $write->('empty', "\n", 0600);
$set->('signicat.client_secret_file' => $empty);
like($call->(), qr/^28000 signicat.client_secret_file "\Q$empty\E" is empty/, 'an empty file is 28000');

$set->('signicat.client_secret_file' => $good, 'signicat.client_secret' => 'other');
like($call->(), qr/^28000 both signicat.client_secret and signicat.client_secret_file are set/,
	'both settings at once are refused');

# rotation: the next token is fetched with what the file says then
my $rot = $write->('rotating', "wrong-secret\n", 0600);
$set->('signicat.client_secret' => '', 'signicat.client_secret_file' => $rot);
like($call->(), qr/^28000 /, 'a wrong secret in the file: the token endpoint refuses it (28000)');
unlink($rot);
$write->('rotating', "$SECRET\n", 0600);
is($call->(), 'ok', 'after the file is rewritten with the right secret, the next call works');

# the secret file setting is visible to superusers only
query($node, 'CREATE ROLE plain LOGIN');
my ($rc, $out, $err) = $node->psql('postgres', 'SHOW signicat.client_secret_file',
	extra_params => [ '-U', 'plain' ]);
like($err, qr/permission denied|must be superuser|privileges of pg_read_all_settings/,
	'an ordinary role cannot see the file name');

my $log = log_after($node, $log0);
unlike($log, qr/\Q$SECRET\E/, 'the secret is nowhere in the server log');
check_no_crash($node, $log0);

done_testing();
