/**
 * The certificates of a local cluster, made with the machine's openssl: a CA, the API
 * server's serving certificate (127.0.0.1, localhost), a client certificate in
 * system:masters for the admin kubeconfig (the controllers use it too), and the
 * service-account signing key pair.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { systemTool } from './tools.js';

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run(systemTool('openssl'), args, { cwd: dir, timeout: 30_000 });
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed: ${String((err as { stderr?: string }).stderr ?? err)}`);
  }
}

const newKey = (dir: string, file: string) =>
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);

/** Signs a certificate for `subject` with the CA; `ext` is an openssl extension section. */
async function signed(dir: string, name: string, subject: string, ext: string): Promise<void> {
  await newKey(dir, `${name}.key`);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    // A random serial rather than a shared serial file: the certificates are signed in parallel.
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '7',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

export async function makePki(dir: string): Promise<Pki> {
  await newKey(dir, 'ca.key');
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=mdp-local-cluster-ca',
    '-days',
    '7',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'ca.crt',
  ]);
  await Promise.all([
    signed(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
        '',
      ].join('\n'),
    ),
    signed(
      dir,
      'admin',
      '/O=system:masters/CN=mdp-admin',
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=clientAuth',
        '',
      ].join('\n'),
    ),
    (async () => {
      await newKey(dir, 'sa.key');
      await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    })(),
  ]);
  const f = (n: string) => path.join(dir, n);
  return {
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    adminCert: f('admin.crt'),
    adminKey: f('admin.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
  };
}
