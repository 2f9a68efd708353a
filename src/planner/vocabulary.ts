/**
 * Words that never name a person, an application or a group on their own. Used to decide which
 * words of a request are worth looking up in the directory, and which leftovers are noise.
 */
const COMMON = `a about above after again against all also am an and any anymore anyone anything are as asap at away back
be because been before being below between both but by can cannot could did do does doing done down during each else
every few for from further get gets getting give given go going got had has have having he her here hers herself him
himself his how i if in into is it its itself just let like ll me mine more most my myself need needs no nor not now of
off on once only or other our ours ourselves out over own please pls plz same she should so some still such than thank
thanks that the their theirs them themselves then there these they this those through to too under until up us very
want wants was we were what when where which while who whom why will with would yes yet you your yours yourself
hi hello hey dear team morning afternoon evening today tomorrow yesterday tonight week weekend day days month
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december regards cheers best kind urgent urgently soon quick quickly help new old
access account accounts add added remove removed request requests requested license licence licenses licences seat
seats app apps application applications software tool tools system systems group groups list lists mailbox inbox
email emails mail shared share drive folder file files login log sign signed password phone laptop computer printer
ticket issue problem error again anymore work working job role office desk floor thing stuff someone something everyone
company manager boss hr it admin user users employee employees staff colleague colleagues new starter joiner
sales marketing finance engineering support operations executive legal product design people human resources
also just really actually ok okay sure fine last first next final set setup install use using used able unable cant
dont doesnt isnt wont im ive id youre theyre hes shes thats whats there um uh erm yeah yep hmm okay hey
dl dls distro distribution subscription subscriptions membership memberships permission permissions rights channel`;

export const COMMON_WORDS: ReadonlySet<string> = new Set(COMMON.split(/\s+/).filter((w) => w !== ''));

/** Words that say nothing about which group or license is meant ("the Support inbox" is the Support one). */
export const GENERIC_RESOURCE_WORDS: ReadonlySet<string> = new Set([
  'all', 'staff', 'team', 'sales', 'marketing', 'finance', 'engineering', 'support', 'operations', 'executive', 'hr',
  'it', 'accounts', 'account', 'payable', 'shared', 'share', 'file', 'files', 'drive', 'inbox', 'mailbox', 'list',
  'group', 'users', 'user', 'access', 'app', 'apps', 'the', 'cloud', 'creative', 'office', 'general', 'everyone',
  'company', 'plan', 'pro', 'online', 'microsoft', 'project', 'power', 'business', 'users', 'members', 'mail',
]);

/**
 * Other names people use for applications MSP clients commonly run, by the name a runbook or a
 * group description gives them. They only ever point at a group the client's tenant and runbooks
 * already have; an alias of an application the client does not run matches nothing.
 */
export const APPLICATION_ALIASES: Readonly<Record<string, readonly string[]>> = {
  vpn: ['remote access', 'virtual private network', 'globalprotect', 'anyconnect', 'forticlient'],
  docusign: ['e signature', 'esignature'],
  salesforce: ['sfdc'],
  github: ['git hub'],
};
