import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCases } from './eval.ts';
import { type AccountIntent, actionFor, cueWords, readIntents } from './intent.ts';
import { detectLanguage, type Language, lexiconSizes, readLanguage } from './language.ts';
import { runCase } from './testing/run-case.ts';
import { words } from './text.ts';

/** What the planner reads in a request once it is rendered in English. */
function intentsOf(text: string, language: Language) {
  const reading = readLanguage(text);
  expect(reading.language).toBe(language);
  return readIntents(reading.english);
}

/** Whether the rendered request asks for `name` or asks it away, as the planner reads it. */
function actionOn(text: string, name: string) {
  const ws = words(readLanguage(text).english);
  const target = words(name);
  const start = ws.findIndex((_, i) => target.every((w, k) => ws[i + k] === w));
  expect(start).toBeGreaterThanOrEqual(0);
  return actionFor(cueWords(readLanguage(text).english), start, start + target.length);
}

interface Case {
  text: string;
  account?: AccountIntent[];
  hardware?: boolean;
  onboarding?: boolean;
  admin?: boolean;
  manyPeople?: boolean;
  /** The rendering must match this (names as written, the English the patterns expect). */
  reads?: RegExp;
}

function checkCases(language: Language, cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.text, c] as const))('%s', (text, c) => {
    const reading = intentsOf(text, language);
    expect(reading.account).toEqual(c.account ?? []);
    expect(reading.hardware).toBe(c.hardware ?? false);
    if (c.onboarding !== undefined) expect(reading.onboarding).toBe(c.onboarding);
    if (c.admin !== undefined) expect(reading.admin).toBe(c.admin);
    if (c.manyPeople !== undefined) expect(reading.manyPeople).toBe(c.manyPeople);
    if (c.reads) expect(readLanguage(text).english).toMatch(c.reads);
  });
}

describe('detectLanguage', () => {
  it.each([
    ['Ich kann mich seit gestern nicht mehr in Outlook anmelden, bitte um Hilfe.', 'de'],
    ['Drucker kaputt', 'de'],
    ['Passwort vergessen', 'de'],
    ["Bonjour, je n'arrive plus à me connecter à ma boîte mail depuis ce matin.", 'fr'],
    ["Mot de passe oublié, merci de m'aider", 'fr'],
    ['Hola, necesito que me restablezcan la contraseña por favor.', 'es'],
    ['La impresora de la segunda planta no imprime', 'es'],
    ['¿Podría tener Miro?', 'es'],
    ['Goedemorgen, ik ben mijn wachtwoord vergeten en kan niet meer inloggen.', 'nl'],
    ['Mijn account is geblokkeerd.', 'nl'],
  ] as const)('%s is %s', (text, language) => {
    const found = detectLanguage(text);
    expect(found.language).toBe(language);
    expect(found.confidence).toBeGreaterThan(0.5);
  });

  it.each([
    'need jira pls',
    'Please put Nestor on the Marketing distribution list.',
    'I need access to Jira.',
    'Can I get the Adobe license back please',
    'printer on 2 is jammed again',
    "my laptop won't turn on",
  ])('keeps the short English ticket "%s" English', (text) => {
    expect(detectLanguage(text).language).toBe('en');
  });

  it('counts names and products for nothing', () => {
    expect(detectLanguage('Please give Jan de Vries and Pablo de la Cruz access to Zendesk').language).toBe('en');
    expect(detectLanguage('Jürgen Weiß, Hans Müller, SG-App-Zendesk').language).toBe('en');
    expect(detectLanguage('Jürgen Weiß, Hans Müller, SG-App-Zendesk').confidence).toBe(0);
    expect(detectLanguage('Zendesk for Ben van der Berg').language).toBe('en');
  });

  it('goes by the majority of the words in mixed text', () => {
    const forwarded = [
      'From: Lukas Brandt <lukas.brandt@fabrikam.example>',
      'Sent: Monday 9:14',
      'To: helpdesk',
      'Subject: FW: Zugang',
      '',
      'Hallo zusammen, ich brauche bitte Zugang zum freigegebenen Postfach Einkauf, weil meine Kollegin',
      'ab morgen im Urlaub ist. Mein Chef hat es schon genehmigt. Danke und viele Grüße, Lukas',
    ].join('\n');
    expect(detectLanguage(forwarded).language).toBe('de');
    expect(detectLanguage('Please reset my password, I am locked out.\n\nMit freundlichen Grüßen\nLukas Brandt').language).toBe('en');
  });
});

describe('readLanguage', () => {
  it('leaves English alone, byte for byte', () => {
    const text = "Hi,  I can't log in since this morning; can you   help?\n\nThanks, Dee";
    expect(readLanguage(text)).toEqual({ language: 'en', english: text });
  });

  it('keeps names, group names, addresses and product names exactly as written', () => {
    const english = readLanguage('Bitte füge nestor.wilke@contoso.example und Lidia zur Gruppe SG-App-Zendesk und zu DL-Sales hinzu, auch SharePoint und iPhone.').english;
    for (const name of ['nestor.wilke@contoso.example', 'Lidia', 'SG-App-Zendesk', 'DL-Sales', 'SharePoint', 'iPhone']) expect(english).toContain(name);
    expect(english).toMatch(/^please add /);
  });

  it('writes English in lower case except "I", and keeps the writer\'s capitals elsewhere', () => {
    const english = readLanguage('Hallo, ich brauche eine Lizenz für Visio und Zugang zu Miro.').english;
    expect(english).toBe('hello, I need a license for Visio and access to Miro.');
  });

  it('keeps lines, links and compounds of a name', () => {
    const mail = 'Hallo,\n\nder Drucker hat einen Papierstau.\nLink: https://portal.fabrikam.example/ticket?id=7\n\nViele Grüße\nJonas';
    expect(readLanguage(mail).english).toBe('hello,\n\nthe printer has a paper jam.\nlink: https://portal.fabrikam.example/ticket?id=7\n\nregards\nJonas');
    expect(readLanguage('Ich brauche einen Zendesk-Zugang für Nestor.').english).toBe('I need a Zendesk access for Nestor.');
    expect(readLanguage('')).toEqual({ language: 'en', english: '' });
  });

  it('tells a given name from a word of the language', () => {
    expect(readLanguage('Ik ben ziek. Ben heeft toegang nodig tot Jira.').english).toBe('I am off sick. Ben needs access to Jira.');
    expect(readLanguage('Vandaag is Ben ziek, dus ik ben de contactpersoon.').english).toMatch(/^today is Ben off sick, .* I am /);
  });

  it('reads the German polite "Sie" and "Ihr" apart from "sie" and "ihr"', () => {
    expect(readLanguage('Könnten Sie bitte ihr Konto sperren? Heute ist ihr letzter Arbeitstag.').english).toBe(
      'could you please block her account? today is her last day.',
    );
    expect(readLanguage('Ich habe Ihr Formular ausgefüllt. Sie ist krank.').english).toBe('I have filled in your form. she is off sick.');
  });

  it('puts the subject of an inverted German clause before its negation', () => {
    const english = readLanguage('Seit dem Update kann ich mich nicht mehr bei Outlook anmelden.').english;
    expect(english).toBe('since the Update I can not sign in anymore at Outlook.');
    expect(readIntents(english).account).toEqual(['password']);
  });

  it('never loses an address, a group name or a number, whatever words surround them', () => {
    const word = fc.constantFrom(
      'ich', 'brauche', 'Zugang', 'zu', 'nicht', 'mehr', 'habe', 'vergessen', 'bitte', 'je', "j'ai", 'besoin', 'accès', 'à',
      'necesito', 'acceso', 'a', 'la', 'ik', 'heb', 'nodig', 'toegang', 'tot', 'de', 'van', 'Ben', 'Nestor', 'and', 'the', ',', '.', '\n',
    );
    const name = fc.constantFrom('nestor.wilke@contoso.example', 'SG-App-Zendesk', 'DL-Sales', 'iPhone', 'SharePoint', 'Q3-2025', 'F:', '42');
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), name, fc.array(word, { maxLength: 12 }), (before, fixed, after) => {
        const text = [...before, fixed, ...after].join(' ');
        const reading = readLanguage(text);
        expect(reading.english).toContain(fixed.replace(/:$/, ''));
        if (reading.language === 'en') expect(reading.english).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('renders elisions as separate words', () => {
    expect(readLanguage("L'imprimante de l'accueil a un bourrage papier.").english).toBe('the printer of the reception has a paper jam.');
  });

  it('takes a need back when a German or Dutch negation ends the clause', () => {
    expect(readLanguage('Ich brauche Tableau nicht mehr.').english).toBe('I no longer need Tableau.');
    expect(readLanguage('Ich brauche Tableau nicht.').english).toBe("I don't need Tableau.");
    expect(readLanguage('Hij heeft Tableau niet meer nodig.').english).toBe('he no longer needs Tableau.');
    expect(actionOn('Ich brauche Tableau nicht mehr, danke.', 'Tableau')).toBe('withdraw');
    expect(actionOn('Ik heb Miro niet meer nodig, dank je.', 'Miro')).toBe('withdraw');
  });

  it('puts need and access before the product, with names unchanged', () => {
    const cases: Array<[string, string]> = [
      ['Ich brauche Zugang zu Confluence.', 'Confluence'],
      ['Wir benötigen für Lidia Zugriff auf Salesforce.', 'Salesforce'],
      ["J'ai besoin d'un accès à Miro, s'il vous plaît.", 'Miro'],
      ['Bonjour, Nestor a besoin de l’accès à Salesforce.', 'Salesforce'],
      ['Necesito acceso a Tableau, gracias.', 'Tableau'],
      ['Mi compañero Nestor necesita acceso a Jira.', 'Jira'],
      ['Ik heb toegang tot Confluence nodig.', 'Confluence'],
      ['Nestor heeft toegang nodig tot Salesforce.', 'Salesforce'],
    ];
    for (const [text, product] of cases) {
      const english = readLanguage(text).english;
      expect(english, text).toMatch(new RegExp(`\\bneeds?\\b.*\\baccess to (the )?${product}\\b`));
      expect(actionOn(text, product), text).toBe('grant');
    }
    expect(readLanguage('Mi compañero Nestor necesita acceso a Jira.').english).toContain('Nestor');
  });

  it('reads the conjugations employees write', () => {
    const needs: Array<[string, RegExp]> = [
      ['Wir brauchen Zugang zu Miro.', /^we need access to Miro\.$/],
      ['Jonas braucht Miro.', /^Jonas needs Miro\.$/],
      ['Il a besoin de Miro.', /^he needs Miro\.$/],
      ['Nous avons besoin de Miro.', /^we need Miro\.$/],
      ['Necesitamos Miro.', /^we need Miro\.$/],
      ['Marta necesita Miro.', /^Marta needs Miro\.$/],
      ['Hij heeft Miro nodig.', /^he needs Miro\.$/],
      ['Wij hebben Miro nodig.', /^we need Miro\.$/],
    ];
    for (const [text, english] of needs) expect(readLanguage(text).english, text).toMatch(english);
  });

  it('reads add and remove verbs wherever the language puts them', () => {
    expect(actionOn('Kannst du Lidia bitte zur Verteilerliste DL-Marketing hinzufügen?', 'DL-Marketing')).toBe('grant');
    expect(actionOn('Bitte entfernt mich aus DL-Marketing.', 'DL-Marketing')).toBe('withdraw');
    expect(actionOn('Pouvez-vous me retirer de la liste DL-Sales ?', 'DL-Sales')).toBe('withdraw');
    expect(actionOn('¿Podéis quitarme de la lista de distribución DL-Ventas?', 'DL-Ventas')).toBe('withdraw');
    expect(actionOn('Kunnen jullie mij uit de distributielijst DL-Sales verwijderen?', 'DL-Sales')).toBe('withdraw');
    expect(actionOn('Kun je Lotte toevoegen aan DL-Marketing?', 'DL-Marketing')).toBe('grant');
  });

  it('reads whole mails, greeting and signature included', () => {
    const mails: Array<[string, Language, AccountIntent[], RegExp]> = [
      [
        'Guten Tag,\n\nunsere Kollegin Petra Lang ist seit heute wieder aus der Elternzeit zurück. Könnten Sie bitte ihr Konto wieder freischalten?\n\nMit freundlichen Grüßen\nMarkus Wolf',
        'de',
        ['returner'],
        /^hello,\n\nour colleague Petra Lang is since today again back from parental leave\. could you please re-enable her account\?\n\nkind regards\nMarkus Wolf$/,
      ],
      [
        "Bonjour,\n\nSuite à mon changement de téléphone, je ne peux plus valider mes connexions.\nPouvez-vous réinitialiser ma MFA ?\n\nBien cordialement,\nJulie Bernard",
        'fr',
        ['mfa'],
        /change of phone, I can no longer approve my sign-ins\.\ncan you reset my MFA\?/,
      ],
      [
        'Hola equipo,\n\nOs escribo porque Carlos Ruiz deja la empresa el próximo viernes. Por favor, bloquead su cuenta ese día.\n\nGracias,\nElena',
        'es',
        ['leaver'],
        /Carlos Ruiz is leaving the company the next friday\. please, block his account that day\./,
      ],
      [
        'Beste servicedesk,\n\nMijn collega Pieter Jansen is per vandaag weer aan het werk na zijn ziekteverlof.\n\nMet vriendelijke groet,\nAnouk',
        'nl',
        ['returner'],
        /my colleague Pieter Jansen is back at work as of today after his sick leave\./,
      ],
    ];
    for (const [mail, language, account, english] of mails) {
      expect(readLanguage(mail).english, mail).toMatch(english);
      expect(intentsOf(mail, language).account, mail).toEqual(account);
    }
  });

  it('renders a 2 kB mail in well under a millisecond, amortised', () => {
    const paragraph =
      'Hallo zusammen, der Drucker in der Buchhaltung hat seit Montag einen Papierstau und mein Laptop startet nicht mehr. ' +
      'Außerdem brauche ich Zugang zu Miro, und bitte fügt Jonas zur Verteilerliste DL-Einkauf hinzu. Viele Grüße, Lukas. ';
    const mail = paragraph.repeat(Math.ceil(2048 / paragraph.length));
    for (let i = 0; i < 300; i++) readLanguage(`${mail}${i}`);
    const runs = 500;
    const started = performance.now();
    for (let i = 0; i < runs; i++) readLanguage(`${mail}${i}`);
    const perMail = (performance.now() - started) / runs;
    console.log(`readLanguage: ${perMail.toFixed(3)} ms per 2 kB mail`);
    expect(perMail).toBeLessThan(1);
  });

  it('has a phrase book for each language', () => {
    for (const size of Object.values(lexiconSizes())) expect(size).toBeGreaterThan(250);
  });
});

describe('German requests read as the planner expects', () => {
  checkCases('de', [
    { text: 'Ich habe schon wieder mein Passwort vergessen.', account: ['password'], reads: /^I have already again forgotten my password\.$/ },
    { text: 'Mein Konto ist gesperrt und ich kann mich nicht anmelden.', account: ['password'] },
    {
      text: 'Neues Handy, und jetzt funktioniert die Authenticator-App nicht mehr.',
      account: ['mfa'],
      reads: /^new phone, and now doesn't work the authenticator app anymore\.$/,
    },
    { text: 'Mein Diensthandy wurde gestern im Zug gestohlen.', account: ['mfa'] },
    { text: 'Ich habe aus Versehen einen Phishing-Link angeklickt.', account: ['compromise'], reads: /^I have clicked a phishing link by mistake\.$/ },
    { text: 'Ich habe über das Wochenende mein Passwort vergessen.', account: ['password'], reads: /^I have over the weekend forgotten my password\.$/ },
    { text: 'Ich habe ein neues Handy bekommen.', account: ['mfa'], reads: /^I have got a new phone\.$/ },
    { text: 'Lukas Brandt hat gekündigt, Freitag ist sein letzter Arbeitstag.', account: ['leaver'], reads: /^Lukas Brandt has resigned, friday is his last day\.$/ },
    { text: 'Jana ist aus der Elternzeit zurück, bitte ihr Konto wieder aktivieren.', account: ['returner'], reads: /Jana is back from parental leave/ },
    { text: 'Herr Vogel ist seit Montag wieder im Büro.', account: ['returner'], reads: /^mr Vogel is back in the office since monday\.$/ },
    { text: 'Frau Winter verlässt uns zum Monatsende, bitte alle Zugänge sperren.', account: ['leaver'] },
    { text: 'Maus und Tastatur funktionieren nicht mehr.', hardware: true },
    { text: 'Der Drucker in der Buchhaltung hat einen Papierstau.', hardware: true, reads: /printer.*paper jam/ },
    { text: 'Wir haben ab Montag eine neue Mitarbeiterin in der Buchhaltung.', onboarding: true },
    { text: 'Ich brauche bitte Adminrechte für meinen Laptop.', admin: true },
    { text: 'Bitte gebt meinem ganzen Team Zugriff auf Miro.', manyPeople: true },
    {
      text: 'Mein Kollege Nestor braucht vorübergehend Zugang zum freigegebenen Postfach Einkauf, bis er zurück ist.',
      reads: /^my colleague Nestor needs temporarily access to the shared mailbox Einkauf, until he returns\.$/,
    },
  ]);
});

describe('French requests read as the planner expects', () => {
  checkCases('fr', [
    { text: "Bonjour, j'ai oublié mon mot de passe pendant les vacances.", account: ['password'], reads: /I have forgotten my password/ },
    { text: 'Je ne peux plus me connecter à mon compte depuis hier.', account: ['password'] },
    { text: "J'ai perdu mon téléphone dans le train.", account: ['mfa'], reads: /I have lost my phone/ },
    { text: "Depuis que j'ai changé de portable, l'application Authenticator ne fonctionne plus.", account: ['mfa'] },
    { text: "J'ai cliqué sur un lien dans un mail de phishing, mon compte est peut-être piraté.", account: ['compromise'] },
    { text: "Vendredi c'est le dernier jour de Camille Martin, merci de désactiver son compte.", account: ['leaver'], reads: /last day of Camille Martin/ },
    { text: 'Camille est de retour de congé maternité lundi, merci de réactiver son compte.', account: ['returner'] },
    { text: "L'imprimante couleur a encore un bourrage papier.", hardware: true },
    { text: 'Nous accueillons un nouvel employé au service comptable lundi prochain.', onboarding: true },
    { text: "J'aurais besoin des droits d'administrateur sur mon poste.", admin: true },
    {
      text: "Mon collègue Hugo est en congé, merci de m'ajouter temporairement à la boîte partagée Achats jusqu'à son retour.",
      reads: /^my colleague Hugo is on leave, please add me temporarily to the shared mailbox Achats until he returns\.$/,
    },
  ]);
});

describe('Spanish requests read as the planner expects', () => {
  checkCases('es', [
    { text: 'Hola, he olvidado mi contraseña otra vez.', account: ['password'] },
    { text: 'Mi contraseña ha caducado.', account: ['password'] },
    { text: 'He perdido mi móvil y ya no me llegan los códigos.', account: ['mfa'], reads: /I have lost my phone/ },
    { text: 'Me han robado el móvil esta mañana.', account: ['mfa'] },
    { text: 'Creo que me han hackeado la cuenta, hay inicios de sesión sospechosos.', account: ['compromise'] },
    { text: 'El viernes es el último día de Lucía Gómez, por favor desactivar su cuenta.', account: ['leaver'], reads: /last day of Lucía Gómez/ },
    { text: 'Pablo vuelve de la baja por paternidad el lunes.', account: ['returner'] },
    { text: 'La impresora de recepción tiene un atasco de papel.', hardware: true },
    { text: 'Tenemos un nuevo empleado en Compras que empieza el lunes.', onboarding: true },
    { text: 'Necesito permisos de administrador en mi portátil.', admin: true },
    { text: 'Ya no necesito Tableau, podéis quitar la licencia.', reads: /^I no longer need Tableau, can you remove the license\.$/ },
  ]);
});

describe('Dutch requests read as the planner expects', () => {
  checkCases('nl', [
    { text: 'Ik ben alweer mijn wachtwoord vergeten.', account: ['password'], reads: /^I have again forgotten my password\.$/ },
    { text: 'Ik kan sinds vanochtend niet meer inloggen.', account: ['password'], reads: /can not log in anymore/ },
    { text: 'Hoi, sinds ik een nieuwe telefoon heb, werkt de authenticator-app niet meer.', account: ['mfa'], reads: /doesn't work the authenticator app anymore/ },
    { text: 'Mijn telefoon is gisteren gestolen.', account: ['mfa'] },
    { text: 'Ze is haar telefoon kwijt.', account: ['mfa'], reads: /^she has lost her phone\.$/ },
    { text: 'Ik heb op een link in een phishingmail geklikt.', account: ['compromise'] },
    { text: 'Vrijdag is de laatste werkdag van Sanne de Vries, graag haar account blokkeren.', account: ['leaver'], reads: /last day of Sanne de Vries/ },
    { text: 'Sanne is terug van verlof, kunnen jullie haar account weer activeren?', account: ['returner'] },
    { text: 'De printer bij de receptie heeft een papierstoring.', hardware: true },
    { text: 'We hebben een nieuwe medewerker die maandag begint.', onboarding: true },
    { text: 'Ik heb adminrechten nodig op mijn laptop.', admin: true, reads: /^I need admin rights/ },
    {
      text: 'Mijn collega Daan is ziek, kun je mij tijdelijk toegang geven tot de gedeelde mailbox Inkoop tot hij terug is?',
      reads: /my colleague Daan is off sick.*temporarily give access to the shared mailbox Inkoop until he returns\?$/,
    },
  ]);
});

/**
 * The planner's own English cases (cases.test-data.jsonl), asked again in another language by the
 * same requester: the rendering must lead the built-in planner to the same outcome and steps.
 */
describe('requests in other languages plan as their English originals do', () => {
  const english = new Map(parseCases(readFileSync(new URL('./cases.test-data.jsonl', import.meta.url), 'utf8')).map((c) => [c.id, c]));
  it.each([
    ['own-05', 'de', 'Könnte ich bitte Zugriff auf das F:-Laufwerk bekommen?'],
    ['own-14', 'de', 'Ich brauche eine Project-Lizenz für den Relaunch der Website.'],
    ['own-18', 'de', 'Bitte nehmt mich aus der Verteilerliste Sales raus, ich bekomme zu viele Mails.'],
    ['own-22', 'de', 'Mein Handy wurde gestern Abend gestohlen, ich kann keine Anmeldungen mehr bestätigen.'],
    ['own-27', 'de', 'Ich brauche Zendesk und Tableau, bitte.'],
    ['own-43', 'de', 'Neue Mitarbeiterin ab Montag braucht Zendesk.'],
    ['own-45', 'de', 'Allan Deyoung kommt aus der Elternzeit zurück, bitte sein Konto wieder aktivieren und ihn zu Zendesk hinzufügen.'],
    ['own-07', 'fr', "J'ai cliqué sur un lien dans un mail de phishing et j'ai saisi mon mot de passe avant de m'en rendre compte."],
    ['own-17', 'fr', "Pouvez-vous m'ajouter à la liste de diffusion Sales ?"],
    ['own-29', 'fr', "Je n'utilise plus Tableau, merci de me retirer."],
    ['own-44', 'fr', 'Pourriez-vous donner accès à Figma à toute mon équipe ?'],
    ['own-53', 'fr', "J'ai besoin de Salesforce. Et l'imprimante du 2e étage a un bourrage."],
    ['own-11', 'es', 'Alex nos deja el viernes, es su último día. Por favor, desactivad su cuenta.'],
    ['own-20', 'es', '¿Podéis dar a Joni acceso al buzón Accounts Payable para las facturas pendientes?'],
    ['own-31', 'es', '¿Me podéis dar derechos de administrador local en mi portátil?'],
    ['own-39', 'es', '¿Puedo tener Salesforce? Mi jefa Adele ha dicho que está bien.'],
    ['own-47', 'es', 'Henrietta ha perdido su móvil, por favor restableced su MFA.'],
    ['own-09', 'nl', 'Allan Deyoung is vandaag terug van verlof, willen jullie zijn account weer activeren?'],
    ['own-12', 'nl', 'Lee Gu heeft het bedrijf verlaten, graag zijn account uitschakelen.'],
    ['own-18', 'nl', 'Kunnen jullie mij uit de distributielijst van Sales halen? Ik krijg te veel mails.'],
    ['own-34', 'nl', 'Mijn account is geblokkeerd na te veel pogingen.'],
    ['own-54', 'nl', 'Haal me alsjeblieft uit Tableau en voeg me toe aan Figma.'],
    ['own-14', 'nl', 'Zou ik een Project-licentie kunnen krijgen voor de relaunch van de website?'],
    ['own-04', 'de', 'Kann ich bitte GitHub haben?'],
    ['own-33', 'fr', "Merci d'ajouter Alex et Henrietta à Figma."],
    ['own-01', 'de', 'Kann ich Adobe Creative Cloud bekommen? Ich brauche es für die neue Broschüre.'],
    ['own-10', 'de', 'Allan ist aus dem Urlaub zurück, kannst du sein Konto wieder einschalten?'],
    ['own-16', 'de', 'Bitte fügt mich zur Sales-Verteilerliste hinzu.'],
    ['own-30', 'de', 'Ich brauche Visio nicht mehr, bitte meine Visio-Lizenz entfernen.'],
    ['own-41', 'de', 'Es gibt Anmeldungen aus einem Land, in dem ich noch nie war, auf meinem Konto.'],
    ['fab-01', 'de', 'Kann ich VPN-Zugang fürs Homeoffice bekommen?'],
    ['own-13', 'fr', 'Est-ce que je peux avoir Power BI Pro ?'],
    ['own-23', 'fr', "Pourriez-vous réinitialiser le mot de passe d'Alex Wilber, il l'a oublié."],
    ['own-40', 'fr', 'Allan Deyoung a démissionné, merci de bloquer sa connexion.'],
    ['own-46', 'fr', "J'ai besoin d'un accès à distance pour travailler depuis chez moi."],
    ['own-04', 'es', '¿Me podéis añadir a GitHub?'],
    ['own-32', 'es', 'Creo que han hackeado la cuenta de Alex, está enviando correos de spam que él no ha escrito.'],
    ['own-42', 'es', 'Perdón, creo que acabo de dar mi contraseña a alguien que se hacía pasar por IT por teléfono.'],
    ['own-57', 'es', 'Por favor, dad a Pradeep acceso a la carpeta compartida de finanzas.'],
    ['own-08', 'nl', 'Ik heb op een geleende laptop ingelogd tijdens de conferentie en ik denk dat ik daar nog ingelogd ben.'],
    ['own-26', 'nl', 'Ik heb Zendesk en Workday nodig.'],
    ['own-38', 'nl', 'Zendesk blijft crashen als ik een ticket open.'],
    ['own-52', 'nl', 'Graag het account van Lee Gu beëindigen, hij is vanochtend ontslagen.'],
  ] as const)('%s in %s: %s', async (id, language, text) => {
    const original = english.get(id);
    if (!original) throw new Error(`no case ${id}`);
    const reading = readLanguage(text);
    expect(reading.language).toBe(language);
    const run = await runCase({ ...original, text: reading.english });
    expect(run.score.passed, `${reading.english} → ${run.proposed.summary}`).toBe(true);
  });
});
