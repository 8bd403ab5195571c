/**
 * The shape of partnerd.yaml. Every key is described here and in config.example.yaml; a test keeps the
 * two in step. Unknown keys are refused at every level so a typo never silently falls back to a default.
 */
import { type Static, Type as T } from '@sinclair/typebox'

const strict = { additionalProperties: false } as const
/** A top-level section: may be left out, and then every key in it takes its default. */
const section = { ...strict, default: {} } as const

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const ServerSchema = T.Object(
  {
    host: T.String({ default: '0.0.0.0', minLength: 1, description: 'Interface to listen on.' }),
    port: T.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'TCP port (0 picks a free one).' }),
    public_url: T.String({
      default: 'http://localhost:8080',
      pattern: '^https?://[^\\s/]+(/.*)?$',
      description: 'Base URL clients use to reach this server (links, cookies, emails); https gives cookies Secure.',
    }),
    trust_proxy: T.Union([T.Boolean(), T.Integer({ minimum: 0, maximum: 10 })], {
      default: false,
      description: 'Reverse proxies in front of partnerd (true: one): the client address is the X-Forwarded-For entry the nearest one saw.',
    }),
    body_limit_bytes: T.Integer({ default: 1_048_576, minimum: 1024, description: 'Largest accepted request body.' }),
  },
  section,
)

const SqliteSchema = T.Object(
  {
    path: T.String({ default: './data/partnerd.db', minLength: 1, description: 'SQLite database file.' }),
    busy_timeout_ms: T.Integer({
      default: 5000,
      minimum: 0,
      description: 'How long a write waits for the write lock another process holds (then 503 database_busy).',
    }),
    synchronous: T.Union([T.Literal('full'), T.Literal('normal')], {
      default: 'full',
      description:
        'full: every commit is on disk before it is answered, and survives a power cut. normal: commits survive a crash of partnerd, but a power cut or OS crash may undo the last ones before a checkpoint.',
    }),
  },
  strict,
)

const PostgresSchema = T.Object(
  {
    url: T.String({ pattern: '^postgres(ql)?://', description: 'Connection URL of the serving role.' }),
    migration_url: T.Optional(
      T.String({ pattern: '^postgres(ql)?://', description: 'Connection URL of the schema owner, used to migrate.' }),
    ),
    pool_size: T.Integer({
      default: 10,
      minimum: 1,
      maximum: 1000,
      description: 'Connections per instance for requests and jobs; the click writer holds one more of its own.',
    }),
  },
  strict,
)

const DatabaseSchema = T.Object(
  {
    sqlite: T.Optional(SqliteSchema),
    postgres: T.Optional(PostgresSchema),
    auto_migrate: T.Boolean({
      default: true,
      description: 'Apply pending migrations when the server starts (else refuse to start until `migrate` ran).',
    }),
  },
  section,
)

const SessionSchema = T.Object(
  {
    cookie_name: T.String({
      default: 'op_session',
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: 'Session cookie name (session_token for the PartnerOS dialect); __Host- is prefixed over HTTPS.',
    }),
    idle_timeout_minutes: T.Integer({ default: 1440, minimum: 1, description: 'A session unused this long ends.' }),
    absolute_timeout_hours: T.Integer({ default: 720, minimum: 1, description: 'A session ends this long after sign-in, used or not.' }),
  },
  section,
)

const SignInSchema = T.Object(
  {
    failures_per_account: T.Integer({ default: 10, minimum: 1, description: 'Failed sign-ins per email and window before 429.' }),
    failures_per_address: T.Integer({ default: 50, minimum: 1, description: 'Failed sign-ins per client address and window.' }),
    window_seconds: T.Integer({ default: 900, minimum: 1 }),
  },
  section,
)

const AuthSchema = T.Object(
  {
    admin_api_keys: T.String({
      default: '',
      description: 'Comma-separated admin keys (headless admin). Several allow rotation. Empty: none.',
    }),
    api_key_prefix: T.String({
      default: 'op_live_',
      pattern: '^[a-z][a-z0-9]*_([a-z0-9]+_)?$',
      description: 'Prefix of minted API keys, e.g. op_live_ or ps_.',
    }),
    session: SessionSchema,
    sign_in: SignInSchema,
  },
  section,
)

const SecretsSchema = T.Object(
  {
    key: T.String({
      default: '',
      description:
        'Seals the stored secrets read back (webhook secrets, click-hash keys): 32 random bytes, base64 or hex. Required with PostgreSQL (every instance shares it); empty on SQLite: generated into <database file>.key.',
    }),
    previous_keys: T.String({
      default: '',
      description: 'Comma-separated former keys, still opened until `partnerd secrets rotate` has re-sealed everything under key.',
    }),
  },
  section,
)

const MailSchema = T.Object(
  {
    transport: T.Union([T.Literal('file'), T.Literal('smtp')], {
      default: 'file',
      description: 'file: write each message as an .eml file in mail.dir (development). smtp: send through mail.smtp_url.',
    }),
    from: T.String({ default: 'partnerd <no-reply@localhost>', minLength: 3 }),
    dir: T.String({ default: './data/mail', minLength: 1, description: 'Folder for the file transport.' }),
    smtp_url: T.Optional(T.String({ pattern: '^smtps?://', description: 'smtp://user:pass@host:587 or smtps://… (port 465).' })),
  },
  section,
)

const TrackingSchema = T.Object(
  {
    cookie_days: T.Integer({ default: 90, minimum: 1, maximum: 400, description: 'Lifetime of the _cref click cookie.' }),
    cookie_domain: T.Optional(
      T.String({
        minLength: 1,
        description:
          'Domain of the _cref cookie, for a router on a subdomain of the site (go.example.com setting it for example.com); it must contain server.public_url’s host. Left out: the router’s host only.',
      }),
    ),
    velocity_per_minute: T.Integer({
      default: 20,
      minimum: 1,
      description: 'Clicks from one address in a minute beyond which its clicks are flagged for review.',
    }),
    max_per_minute: T.Integer({
      default: 300,
      minimum: 1,
      description: 'Clicks from one address in a minute beyond which the router answers 429.',
    }),
    link_cache_seconds: T.Integer({
      default: 5,
      minimum: 0,
      description: 'How long an instance keeps a link it looked up (a change made elsewhere shows within this, plus a second).',
    }),
    identify_per_minute: T.Integer({ default: 60, minimum: 1, description: 'Identify calls per client address and minute.' }),
  },
  section,
)

const CommissionsSchema = T.Object(
  {
    approve_interval_seconds: T.Integer({
      default: 300,
      minimum: 0,
      description: 'How often matured commissions are approved (0: never by itself; POST /commissions/approve-matured).',
    }),
  },
  section,
)

const WebhooksSchema = T.Object(
  {
    retry_schedule_ms: T.Array(T.Integer({ minimum: 1 }), {
      default: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      minItems: 1,
      maxItems: 50,
      description: 'Wait before each retry of a failed delivery (with ±20% jitter); after the last, the delivery fails.',
    }),
    timeout_ms: T.Integer({ default: 10_000, minimum: 100, description: 'A delivery not answered in time has failed.' }),
    poll_interval_ms: T.Integer({ default: 1_000, minimum: 10, description: 'How often the worker looks for due deliveries.' }),
    disable_after_seconds: T.Integer({
      default: 432_000,
      minimum: 1,
      description: 'An endpoint failing without a success for this long is disabled (and its owner told).',
    }),
    rotation_overlap_seconds: T.Integer({
      default: 86_400,
      minimum: 0,
      description: 'After a secret rotation, the old secret also signs this long.',
    }),
    allow_hosts: T.Array(T.String({ minLength: 1 }), {
      default: [],
      description: 'Hosts that may be private or loopback addresses (by default refused: SSRF guard).',
    }),
    default_format: T.Union([T.Literal('standard'), T.Literal('openpartner')], {
      default: 'standard',
      description: 'The format of an endpoint made without one: Standard Webhooks, or OpenPartner’s (for its clients, unchanged).',
    }),
  },
  section,
)

const PluginEntrySchema = T.Object(
  {
    builtin: T.Optional(T.String({ minLength: 1, description: 'Name of a built-in plugin.' })),
    path: T.Optional(T.String({ minLength: 1, description: 'File of an external plugin, relative to the config file.' })),
    enabled: T.Boolean({ default: true }),
    config: T.Optional(T.Unknown({ description: "The plugin's own settings, validated by the plugin." })),
  },
  strict,
)

const LoggingSchema = T.Object(
  {
    level: T.Union(
      LOG_LEVELS.map((l) => T.Literal(l)),
      { default: 'info' },
    ),
    format: T.Union([T.Literal('json'), T.Literal('pretty')], {
      default: 'json',
      description: 'json: one object per line. pretty: readable lines for a terminal.',
    }),
    access: T.Union([T.Literal('all'), T.Literal('errors'), T.Literal('none')], {
      default: 'all',
      description: 'The access log, a line per request at level info. all; errors: only requests answered 4xx or 5xx; none.',
    }),
    access_sample: T.Integer({
      minimum: 1,
      default: 1,
      description: 'Of the requests answered below 400, log one in this many (1: each). Errors are always logged.',
    }),
  },
  section,
)

export const ConfigSchema = T.Object(
  {
    mode: T.Union([T.Literal('single'), T.Literal('multi')], {
      default: 'single',
      description: 'single: one tenant at /api. multi: tenants at /api/t/<slug>.',
    }),
    server: ServerSchema,
    database: DatabaseSchema,
    auth: AuthSchema,
    secrets: SecretsSchema,
    mail: MailSchema,
    tracking: TrackingSchema,
    commissions: CommissionsSchema,
    webhooks: WebhooksSchema,
    plugins: T.Array(PluginEntrySchema, { default: [] }),
    logging: LoggingSchema,
  },
  strict,
)

export type Config = Static<typeof ConfigSchema>
export type PluginEntry = Static<typeof PluginEntrySchema>
