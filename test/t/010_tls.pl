# 010_tls.pl: the extension against the mock served over HTTPS, with a throwaway CA.
#
# At test time the openssl CLI makes a CA, a server certificate for 127.0.0.1 (subjectAltName
# IP:127.0.0.1, DNS:localhost) signed by it, a second unrelated CA, and a certificate for another
# name signed by the right CA. The mock serves HTTPS (--tls-cert/--tls-key) and the node points
# signicat.base_url and signicat.token_url at https://127.0.0.1:PORT. Asserted:
#   - with signicat.ca_file = the CA, calls work (and the token comes over TLS too);
#   - with no ca_file (the system's CAs) and with the wrong CA they fail with SQLSTATE 08001, a
#     message about TLS and the hint about signicat.ca_file;
#   - in one session, a connection verified with the right CA is not reused once ca_file changes
#     (or is reset): verification happens again and fails;
#   - a certificate from the right CA for another host name fails (host name verification);
#   - http:// to the TLS port fails promptly with an 08 error, no hang;
#   - the backend keeps working after each failure and no server process crashed.
#
# The mock and the node are started here, not with SignicatTest's start_mock/new_node: those start
# a plain-HTTP mock and configure http:// URLs and the background worker.

use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# loopback only, never through a proxy from the environment (libcurl in the server inherits this)
$ENV{no_proxy} = $ENV{NO_PROXY} = '127.0.0.1,localhost,::1';
delete $ENV{$_} for qw(http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY);

my $REPO = abs_path(dirname(__FILE__) . '/../..');
my $dir = PostgreSQL::Test::Utils::tempdir('tls');

# ---- certificates ------------------------------------------------------------------------------
sub openssl
{
	my @cmd = ('openssl', @_);
	my ($out, $err);
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err)
	  or BAIL_OUT("@cmd failed: $err");
	return $out;
}

# make_ca(NAME): a self-signed CA certificate and key in $dir/NAME.{crt,key}
sub make_ca
{
	my ($name) = @_;
	openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt", '-days', '2',
		'-subj', "/CN=signicat test $name",
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

# make_server(NAME, CA, SAN): a server certificate $dir/NAME.crt (key NAME.key) signed by CA
sub make_server
{
	my ($name, $ca, $san) = @_;
	openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.csr", '-subj', "/CN=$name");
	open(my $fh, '>', "$dir/$name.ext") or die $!;
	print $fh "subjectAltName = $san\nbasicConstraints = CA:FALSE\n"
	  . "keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n";
	close($fh);
	openssl('x509', '-req', '-in', "$dir/$name.csr", '-CA', "$dir/$ca.crt", '-CAkey', "$dir/$ca.key",
		'-CAcreateserial', '-out', "$dir/$name.crt", '-days', '2', '-extfile', "$dir/$name.ext");
}

make_ca('ca');
make_ca('other-ca');
make_server('server', 'ca', 'IP:127.0.0.1, DNS:localhost');
make_server('elsewhere', 'ca', 'DNS:signicat.invalid');
my $ca = "$dir/ca.crt";
my $other_ca = "$dir/other-ca.crt";
note openssl('x509', '-in', "$dir/server.crt", '-noout', '-subject', '-ext', 'subjectAltName');

# ---- mocks -------------------------------------------------------------------------------------
my @mocks;

# start_tls_mock(NAME, CERT): an HTTPS mock with $dir/CERT.{crt,key}; returns its port
sub start_tls_mock
{
	my ($name, $cert) = @_;
	my $port_file = "$dir/$name.port";
	my $run = IPC::Run::start(
		[ $ENV{PYTHON} || 'python3', "$REPO/test/mock/signicat_mock.py", '--host', '127.0.0.1',
			'--port', '0', '--port-file', $port_file,
			'--client-id', 'test-client', '--client-secret', 'test-secret',
			'--tls-cert', "$dir/$cert.crt", '--tls-key', "$dir/$cert.key" ],
		'<', \undef, '>', "$dir/$name.stdout", '2>', "$dir/$name.stderr");
	push @mocks, $run;
	my $deadline = time + 20;
	while (!-s $port_file)
	{
		if (!$run->pumpable || time > $deadline)
		{
			BAIL_OUT("the TLS mock did not start: " . slurp_file("$dir/$name.stderr"));
		}
		usleep(50_000);
	}
	my ($port) = slurp_file($port_file) =~ /(\d+)/;
	note "HTTPS mock $name on 127.0.0.1:$port";
	return $port;
}

END
{
	my $rc = $?;
	for my $run (@mocks)
	{
		eval { $run->signal('TERM'); $run->finish; 1 } or eval { $run->kill_kill };
	}
	$? = $rc;
}

my $port = start_tls_mock('mock', 'server');
my $port_elsewhere = start_tls_mock('mock-elsewhere', 'elsewhere');
my $url = "https://127.0.0.1:$port";

# the certificates and the mock are right, independently of the extension
SKIP:
{
	skip 'curl is not installed', 1 unless system('curl --version >/dev/null 2>&1') == 0;
	my ($out, $err);
	IPC::Run::run([ 'curl', '-sS', '--max-time', '10', '--cacert', $ca, "$url/__mock/health" ],
		'<', \undef, '>', \$out, '2>', \$err);
	like($out, qr/"ok":\s*true/, 'curl reaches the HTTPS mock with the test CA')
	  or diag($err);
}

# ---- node ----------------------------------------------------------------------------------------
my $node = PostgreSQL::Test::Cluster->new('tls');
$node->init;
$node->append_conf('postgresql.conf', <<"EOC");
shared_preload_libraries = 'signicat'
signicat.base_url = '$url'
signicat.token_url = '$url/auth/open/connect/token'
signicat.client_id = 'test-client'
signicat.client_secret = 'test-secret'
signicat.connect_timeout = '5s'
signicat.timeout = '20s'
EOC
$node->start;
my $log0 = -s $node->logfile;
$node->safe_psql('postgres', <<'EOS');
CREATE EXTENSION signicat;
-- run a statement; 'ok: <result>' or 'SQLSTATE|message|detail|hint'
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text; st text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt INTO result;
    RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN concat_ws('|', st, msg, det, hnt);
END $$;
EOS

my $create = q{SELECT signicat.assure_create_dossier('tls') ->> 'dossierId'};
my $uuid = qr/^ok: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

# session(SQL...): run the statements in one psql session, SET/RESET as they are, the others
# through try(); returns try()'s results, one per statement that went through it
sub session
{
	my @stmts = @_;
	my $sql = join("\n", map {
		/^(SET|RESET) / ? "$_;" : 'SELECT try($stmt$' . $_ . '$stmt$);'
	} @stmts);
	my ($rc, $out, $err) = $node->psql('postgres', $sql, on_error_stop => 0);
	is($rc, 0, 'session ran') or diag($err);
	return split /\n/, $out;
}

# tls_failure(RESULT, NAME): 08001, a TLS message, the ca_file hint
sub tls_failure
{
	my ($result, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($state, $msg, $detail, $hint) = split /\|/, $result, 4;
	is($state, '08001', "$name: SQLSTATE 08001") or diag($result);
	like($msg, qr/TLS/, "$name: the message is about TLS") or diag($result);
	like($hint // '', qr/signicat\.ca_file/, "$name: the hint names signicat.ca_file") or diag($result);
	note "$name: $result";
	return $detail // '';
}

# 1. the right CA
my ($ok) = session("SET signicat.ca_file = '$ca'", $create);
like($ok, $uuid, 'with signicat.ca_file = the test CA, assure_create_dossier works over TLS');

# 2. no ca_file: the system's CAs do not know the test CA (a fresh session; the token is cached in
#    shared memory by now, so this is the API request's own TLS handshake)
my ($sys) = session($create);
my $detail = tls_failure($sys, 'system CAs');
like($detail, qr/certificate/i, 'system CAs: the detail is a certificate problem');

# 3. the wrong CA
my ($wrong) = session("SET signicat.ca_file = '$other_ca'", $create);
tls_failure($wrong, 'wrong CA');

# 4. one session: verified with the right CA, then ca_file changes: the open connection to the
#    same host and port must not be reused without verification
my @s = session("SET signicat.ca_file = '$ca'", $create,
	"SET signicat.ca_file = '$other_ca'", $create,
	"RESET signicat.ca_file", $create,
	"SET signicat.ca_file = '$ca'", $create, 'SELECT 1');
like($s[0], $uuid, 'same session: right CA works');
tls_failure($s[1], 'same session, then the wrong CA');
tls_failure($s[2], 'same session, then no ca_file');
like($s[3], $uuid, 'same session: the right CA works again');
is($s[4], 'ok: 1', 'same session: the backend still works');

# 5. a certificate from the right CA for another host name
my ($host) = session("SET signicat.ca_file = '$ca'",
	"SET signicat.base_url = 'https://127.0.0.1:$port_elsewhere'", $create, 'SELECT 1');
$detail = tls_failure($host, 'certificate for another host name');
like($detail, qr/name|host|subject/i, 'another host name: the detail says the name does not match');

# 6. plain http:// to the TLS port: a clean, prompt failure
my $t0 = time;
my @h = session("SET signicat.base_url = 'http://127.0.0.1:$port'",
	"SET signicat.token_url = 'http://127.0.0.1:$port/auth/open/connect/token'",
	$create, 'SELECT 1');
my $elapsed = time - $t0;
like($h[0], qr/^08\d\d\d\|/, 'http:// to the TLS port fails with a connection error (class 08)');
note "http:// to the TLS port: $h[0]";
# (generous; a call that waited for an answer would take signicat.timeout, 30 s)
cmp_ok($elapsed, '<', 20, sprintf('... promptly (%.1f s)', $elapsed));
is($h[1], 'ok: 1', '... and the backend still works');

# 7. the same through psql's own error report (VERBOSITY verbose shows the SQLSTATE)
my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSET signicat.ca_file = '$other_ca';\n$create;\nSELECT 'alive';",
	on_error_stop => 0);
like($err, qr/ERROR:\s+08001: could not establish a TLS connection to Signicat/,
	'psql shows ERROR 08001 for the wrong CA');
like($out, qr/alive/, 'psql: the session went on after the error');

# 8. after all that, a new session works and nothing crashed
($ok) = session("SET signicat.ca_file = '$ca'", $create);
like($ok, $uuid, 'a new session with the right CA still works');
my @crash = grep { /terminated by signal|exited with exit code|PANIC:|TRAP:/ }
  split /\n/, substr(slurp_file($node->logfile), $log0);
is(scalar(@crash), 0, 'no server process crashed') or diag(join("\n", @crash));

$node->stop;
done_testing();
