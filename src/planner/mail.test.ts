import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuthor, readMail } from './mail.ts';

/** Mails as tickets carry them: lines joined with "\n", as written here. */
function mail(...lines: string[]): string {
  return lines.join('\n');
}

describe('readMail: forwards in five languages', () => {
  it('English (Gmail): the forwarder note is the body, the quoted author and address are parsed', () => {
    const reading = readMail(
      mail(
        'Fwd: Zendesk for Alex',
        '',
        'Hi IT,',
        '',
        'see below, can you sort this out for Alex?',
        '',
        'Thanks,',
        'Megan',
        '',
        '---------- Forwarded message ---------',
        'From: Alex Wilber <alex.wilber@contoso.example>',
        'Date: Tue, Apr 8, 2025 at 9:14 AM',
        'Subject: Zendesk',
        'To: Megan Bowen <megan.bowen@contoso.example>',
        '',
        '',
        'Hi Megan,',
        '',
        'Could I have a Zendesk agent seat to cover the support queue next week?',
        '',
        'Best,',
        'Alex',
      ),
    );
    expect(reading.body).toBe('Zendesk for Alex\n\nsee below, can you sort this out for Alex?');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Alex Wilber', email: 'alex.wilber@contoso.example' },
        body: 'Could I have a Zendesk agent seat to cover the support queue next week?',
        kind: 'forward',
      },
    ]);
  });

  it('English (Apple Mail): "Begin forwarded message:" with the headers in another order', () => {
    const reading = readMail(
      mail(
        'Please set this up, she starts Monday.',
        '',
        'Sent from my iPad',
        '',
        'Begin forwarded message:',
        '',
        'From: "Fernandez, Patti" <patti.fernandez@contoso.example>',
        'Subject: Miro board access',
        'Date: 8 April 2025 at 09:14:22 CEST',
        'To: Lee Gu <lee.gu@contoso.example>',
        '',
        'Could I get a Miro licence for the design sprint?',
      ),
    );
    expect(reading.body).toBe('Please set this up, she starts Monday.');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Patti Fernandez', email: 'patti.fernandez@contoso.example' },
        body: 'Could I get a Miro licence for the design sprint?',
        kind: 'forward',
      },
    ]);
  });

  it('German: "Weitergeleitete Nachricht", Outlook header labels, "Mit freundlichen Grüßen"', () => {
    const reading = readMail(
      mail(
        'WG: Zugang zu Salesforce',
        '',
        'Hallo zusammen,',
        '',
        'bitte für Frau Vance freischalten, Budget ist genehmigt.',
        '',
        'Viele Grüße',
        'Jonas Schmidt',
        'Vertriebsleitung',
        'Tel. +49 30 1234567',
        '',
        '----- Weitergeleitete Nachricht -----',
        'Von: Adele Vance <adele.vance@contoso.example>',
        'Gesendet: Dienstag, 8. April 2025 09:14',
        'An: Jonas Schmidt <jonas.schmidt@contoso.example>',
        'Betreff: Zugang zu Salesforce',
        '',
        'Guten Morgen,',
        '',
        'ich brauche einen Zugang zu Salesforce für die Angebotsverwaltung.',
        '',
        'Mit freundlichen Grüßen',
        'Adele Vance',
        '',
        'Von meinem iPhone gesendet',
      ),
    );
    expect(reading.body).toBe('Zugang zu Salesforce\n\nbitte für Frau Vance freischalten, Budget ist genehmigt.');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Adele Vance', email: 'adele.vance@contoso.example' },
        body: 'ich brauche einen Zugang zu Salesforce für die Angebotsverwaltung.',
        kind: 'forward',
      },
    ]);
  });

  it('French: "Message transféré", "Cordialement", "Envoyé de mon iPhone"', () => {
    const reading = readMail(
      mail(
        'TR: Accès Tableau',
        '',
        'Bonjour à tous,',
        '',
        'Pouvez-vous traiter la demande de Camille ci-dessous ?',
        '',
        'Cordialement,',
        'Hugo Martin',
        '01 23 45 67 89',
        '',
        '-------- Message transféré --------',
        'Sujet : Accès Tableau',
        'De : Camille Durand <camille.durand@fabrikam.example>',
        'Envoyé : mardi 8 avril 2025 09:14',
        'À : Hugo Martin <hugo.martin@fabrikam.example>',
        'Objet : Accès Tableau',
        '',
        'Bonjour,',
        '',
        "J'ai besoin d'un accès à Tableau pour le reporting mensuel.",
        '',
        "Merci d'avance",
        'Camille',
        '',
        'Envoyé de mon iPhone',
      ),
    );
    expect(reading.body).toBe('Accès Tableau\n\nPouvez-vous traiter la demande de Camille ci-dessous ?');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Camille Durand', email: 'camille.durand@fabrikam.example' },
        body: "J'ai besoin d'un accès à Tableau pour le reporting mensuel.",
        kind: 'forward',
      },
    ]);
  });

  it('English (Apple Mail on a phone): the forwarded message marked with ">"', () => {
    const reading = readMail(
      mail(
        'For Diego, please.',
        '',
        'Sent from my iPhone',
        '',
        'Begin forwarded message:',
        '',
        '> From: Diego Siciliani <diego.siciliani@contoso.example>',
        '> Date: 8 April 2025 at 09:14:22 BST',
        '> To: Megan Bowen <megan.bowen@contoso.example>',
        '> Subject: Slack',
        '>',
        '> Can I be added to the Slack workspace?',
      ),
    );
    expect(reading.body).toBe('For Diego, please.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Diego Siciliani', email: 'diego.siciliani@contoso.example' }, body: 'Can I be added to the Slack workspace?', kind: 'forward' },
    ]);
  });

  it('French (Apple Mail): "Début du message réexpédié :"', () => {
    const reading = readMail(
      mail(
        'Voir ci-dessous, merci de regarder.',
        '',
        'Début du message réexpédié :',
        '',
        'De: Camille Durand <camille.durand@fabrikam.example>',
        'Objet: VPN',
        'Date: 8 avril 2025 à 09:14:22 UTC+2',
        'À: Hugo Martin <hugo.martin@fabrikam.example>',
        '',
        'Mon VPN ne se connecte plus depuis ce matin.',
      ),
    );
    expect(reading.body).toBe('Voir ci-dessous, merci de regarder.');
    expect(reading.quoted[0]?.from).toEqual({ name: 'Camille Durand', email: 'camille.durand@fabrikam.example' });
    expect(reading.quoted[0]?.body).toBe('Mon VPN ne se connecte plus depuis ce matin.');
    expect(reading.quoted[0]?.kind).toBe('forward');
  });

  it('Spanish: "Mensaje reenviado", "Un saludo", "Enviado desde mi iPhone"', () => {
    const reading = readMail(
      mail(
        'RV: Acceso a Power BI',
        '',
        'Hola,',
        '',
        '¿Podéis darle acceso a Lucía? Lo necesita para el cierre trimestral.',
        '',
        'Un saludo,',
        'Carlos Ruiz',
        'Director Financiero',
        '',
        '---------- Mensaje reenviado ---------',
        'De: Lucía Gómez <lucia.gomez@tailspin.example>',
        'Fecha: mar, 8 abr 2025 a las 9:14',
        'Asunto: Acceso a Power BI',
        'Para: Carlos Ruiz <carlos.ruiz@tailspin.example>',
        '',
        'Buenos días,',
        '',
        'Necesito una licencia de Power BI Pro para los informes.',
        '',
        'Saludos,',
        'Lucía',
        '',
        'Enviado desde mi iPhone',
      ),
    );
    expect(reading.body).toBe('Acceso a Power BI\n\n¿Podéis darle acceso a Lucía? Lo necesita para el cierre trimestral.');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Lucía Gómez', email: 'lucia.gomez@tailspin.example' },
        body: 'Necesito una licencia de Power BI Pro para los informes.',
        kind: 'forward',
      },
    ]);
  });

  it('Dutch: "Doorgestuurd bericht", "Met vriendelijke groet", "Verzonden vanaf mijn iPhone"', () => {
    const reading = readMail(
      mail(
        'Doorst: Toegang tot Jira',
        '',
        'Beste helpdesk,',
        '',
        'Kunnen jullie Sanne toegang geven? Zie haar verzoek hieronder.',
        '',
        'Met vriendelijke groet,',
        'Pieter de Vries',
        'Teamleider Ontwikkeling',
        'Keizersgracht 1, Amsterdam',
        '',
        '---------- Doorgestuurd bericht ---------',
        'Van: Sanne Jansen <sanne.jansen@woodgrove.example>',
        'Datum: di 8 apr 2025 om 09:14',
        'Onderwerp: Toegang tot Jira',
        'Aan: Pieter de Vries <pieter.devries@woodgrove.example>',
        '',
        'Hoi,',
        '',
        'Ik heb toegang tot Jira nodig voor het nieuwe project.',
        '',
        'Groetjes,',
        'Sanne',
        '',
        'Verzonden vanaf mijn iPhone',
      ),
    );
    expect(reading.body).toBe('Toegang tot Jira\n\nKunnen jullie Sanne toegang geven? Zie haar verzoek hieronder.');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Sanne Jansen', email: 'sanne.jansen@woodgrove.example' },
        body: 'Ik heb toegang tot Jira nodig voor het nieuwe project.',
        kind: 'forward',
      },
    ]);
  });
});

describe('readMail: a long mail keeps the background and the ask only', () => {
  it('drops the banner, greeting, sign-off, signature, disclaimer and printing plea', () => {
    const reading = readMail(
      mail(
        '[EXTERNAL] New starter in accounts',
        '',
        'CAUTION: This email originated from outside of the organization.',
        'Do not click links or open attachments unless you recognize the sender and know the content is safe.',
        '',
        'Good morning all,',
        '',
        'We have moved the quarterly close to the new finance platform and the team has grown since January.',
        'Diego joined us last week and still cannot open the Finance share.',
        '',
        'Could you add Diego to the Finance share, the same access as the rest of accounts?',
        '',
        'Kind regards,',
        '',
        'Isaiah Langer',
        'Finance Manager | Contoso Ltd',
        'T: +44 20 7946 0000 | M: +44 7700 900000',
        '1 Example Street, London EC1A 1AA',
        '[Contoso logo]',
        '',
        'Please consider the environment before printing this e-mail.',
        '',
        'This e-mail and any attachments are confidential and may be privileged. If you are not the',
        'intended recipient, please notify the sender immediately and delete it.',
        '',
        'Contoso Ltd is registered in England and Wales under number 01234567.',
      ),
    );
    expect(reading.body).toBe(
      mail(
        'New starter in accounts',
        '',
        'We have moved the quarterly close to the new finance platform and the team has grown since January.',
        'Diego joined us last week and still cannot open the Finance share.',
        '',
        'Could you add Diego to the Finance share, the same access as the rest of accounts?',
      ),
    );
    expect(reading.quoted).toEqual([]);
  });

  it('cuts at a disclaimer even without a sign-off, in each language', () => {
    const openers = [
      'CONFIDENTIALITY NOTICE: The contents of this email are intended only for the addressee.',
      'If you are not the intended recipient of this message, please delete it.',
      'Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen.',
      'Ce message et ses pièces jointes sont confidentiels et destinés exclusivement à leurs destinataires.',
      'Este mensaje y sus anexos son confidenciales y están dirigidos exclusivamente a su destinatario.',
      'Dit bericht is uitsluitend bestemd voor de geadresseerde.',
    ];
    for (const opener of openers) {
      expect(readMail(mail('Please reset the MFA on my phone, it was replaced.', '', opener, 'More legal text.')).body).toBe(
        'Please reset the MFA on my phone, it was replaced.',
      );
    }
  });

  it('cuts at a "-- " signature separator', () => {
    expect(readMail(mail('My mailbox is full, can you raise the quota?', '-- ', 'Nestor Wilke', 'Operations')).body).toBe(
      'My mailbox is full, can you raise the quota?',
    );
  });

  it('keeps a postscript below the sign-off', () => {
    expect(readMail(mail('I need Zendesk.', '', 'Thanks,', 'Alex', '', 'P.S. Lee needs it too.')).body).toBe(
      'I need Zendesk.\n\nP.S. Lee needs it too.',
    );
  });

  it('drops greetings in every language when they stand alone, and only then', () => {
    const greetings = [
      'Hi team,',
      'Hello IT,',
      'Dear helpdesk,',
      'Good morning all,',
      'Hallo zusammen,',
      'Guten Morgen,',
      'Sehr geehrte Damen und Herren,',
      'Bonjour,',
      'Bonjour à tous,',
      'Hola,',
      'Buenos días,',
      'Hoi,',
      'Beste helpdesk,',
      'Goedemorgen,',
      'Hi Megan',
      'Dear Mr. Wilke,',
      'Madame, Monsieur,',
      'Liebe Kolleginnen und Kollegen,',
      'Geachte heer/mevrouw,',
    ];
    for (const greeting of greetings) {
      expect(readMail(mail(greeting, '', 'My laptop will not charge.')).body, greeting).toBe('My laptop will not charge.');
    }
    expect(readMail(mail('Hi, I need Zendesk', '', 'Thanks')).body).toBe('Hi, I need Zendesk');
    expect(readMail('Hey can you help me with Teams').body).toBe('Hey can you help me with Teams');
  });

  it('drops sign-offs in every language with the name and title below them', () => {
    const signOffs = [
      'Thanks,',
      'Thank you!',
      'Many thanks',
      'Best regards,',
      'Kind regards, Alex',
      'Cheers,',
      'Best,',
      'Thanks in advance for your help!',
      'Mit freundlichen Grüßen',
      'Viele Grüße',
      'Beste Grüße',
      'LG',
      'Cordialement,',
      'Bien à vous,',
      "Merci d'avance",
      'Saludos,',
      'Un saludo,',
      'Atentamente,',
      'Met vriendelijke groet,',
      'Groetjes,',
      'Alvast bedankt',
      'Thanks & regards,',
      'Danke und viele Grüße',
      'Beste Grüße / Best regards',
      'Cordialement | Kind regards,',
    ];
    for (const signOff of signOffs) {
      const text = mail('Please add me to the Sales Team group.', '', signOff, 'Alex Wilber', 'Sales Associate', '+1 425 555 0100');
      expect(readMail(text).body, signOff).toBe('Please add me to the Sales Team group.');
    }
  });
});

describe('readMail: conservative where the ask could be lost', () => {
  it('keeps a line that merely contains "thanks"', () => {
    const text = mail('Thanks for sorting my password last week; now I need Zendesk', '', 'Thanks!', 'Alex');
    expect(readMail(text).body).toBe('Thanks for sorting my password last week; now I need Zendesk');
    expect(readMail('Thank you for the quick fix yesterday. Could I also get Visio?').body).toBe(
      'Thank you for the quick fix yesterday. Could I also get Visio?',
    );
  });

  it('does not end the mail at a "Thanks!" followed by more than a signature', () => {
    const rest = Array.from({ length: 20 }, (_, i) => `Step ${i + 1} of the onboarding still needs doing.`);
    const text = mail('Quick one first.', 'Thanks!', ...rest);
    expect(readMail(text).body).toBe(text);
  });

  it('does not read "LG Monitor" as a German sign-off', () => {
    expect(readMail(mail('My second screen flickers.', 'LG Monitor, model 27UL500')).body).toBe(
      'My second screen flickers.\nLG Monitor, model 27UL500',
    );
  });

  it('returns a text that is not a mail unchanged', () => {
    for (const text of ['salesforce for me pls', '> salesforce for me pls', '> salesforce for me pls\n> and teams', 'hey, can someone add me to the marketing list? ta', '  Zendesk please  ', 'From: finance, I need Power BI']) {
      expect(readMail(text)).toEqual({ body: text, quoted: [] });
    }
  });

  it('does not take "what I wrote:" for a reply header', () => {
    const text = mail('Here is what I wrote:', '> please add me to Sales', 'but nobody answered.');
    expect(readMail(text).body).toBe('Here is what I wrote:\nbut nobody answered.');
    expect(readMail(text).quoted[0]?.from).toEqual({ name: null, email: null });
  });

  it('does not take one "From:" line in a sentence for a header block', () => {
    const text = mail('From: next Monday I move to the Sales team.', 'To: whom it may concern, please add me to Sales.');
    expect(readMail(text)).toEqual({ body: text, quoted: [] });
  });
});

describe('readMail: reply history', () => {
  it('removes a Gmail reply quote and reads its author', () => {
    const reading = readMail(
      mail(
        'Yes, it is still broken after the restart.',
        '',
        'On Tue, Apr 8, 2025 at 9:14 AM Helpdesk <helpdesk@msp.example> wrote:',
        '> Could you restart the laptop and tell us whether the VPN connects?',
        '>',
        '> Regards,',
        '> Service Desk',
      ),
    );
    expect(reading.body).toBe('Yes, it is still broken after the restart.');
    expect(reading.quoted).toEqual([
      {
        from: { name: 'Helpdesk', email: 'helpdesk@msp.example' },
        body: 'Could you restart the laptop and tell us whether the VPN connects?',
        kind: 'reply',
      },
    ]);
  });

  it('reads a reply header wrapped over two lines', () => {
    const reading = readMail(
      mail(
        'Done, thanks.',
        '',
        'On Tue, 8 Apr 2025 at 09:14, Megan Bowen <',
        'megan.bowen@contoso.example> wrote:',
        '> Please confirm once you have rebooted.',
      ),
    );
    expect(reading.body).toBe('Done, thanks.');
    expect(reading.quoted[0]?.from).toEqual({ name: 'Megan Bowen', email: 'megan.bowen@contoso.example' });
  });

  it('reads reply headers in German, French, Spanish and Dutch', () => {
    const headers: [string, MailAuthorCase][] = [
      ['Am Di., 8. Apr. 2025 um 09:14 Uhr schrieb Jonas Schmidt <jonas.schmidt@contoso.example>:', ['Jonas Schmidt', 'jonas.schmidt@contoso.example']],
      ['Le mar. 8 avr. 2025 à 09:14, Hugo Martin <hugo.martin@fabrikam.example> a écrit :', ['Hugo Martin', 'hugo.martin@fabrikam.example']],
      ['El mar, 8 abr 2025 a las 9:14, Carlos Ruiz (<carlos.ruiz@tailspin.example>) escribió:', ['Carlos Ruiz', 'carlos.ruiz@tailspin.example']],
      ['Op di 8 apr. 2025 om 09:14 schreef Pieter de Vries <pieter.devries@woodgrove.example>:', ['Pieter de Vries', 'pieter.devries@woodgrove.example']],
      ['On 8 Apr 2025, at 09:14, Lee Gu wrote:', ['Lee Gu', null]],
      ['Lee Gu <lee.gu@contoso.example> wrote:', ['Lee Gu', 'lee.gu@contoso.example']],
      ['Jonas Schmidt schrieb am 08.04.2025 um 09:14:', ['Jonas Schmidt', null]],
    ];
    for (const [header, [name, email]] of headers) {
      const reading = readMail(mail('Still not working.', '', header, '> Did the reset help?'));
      expect(reading.body, header).toBe('Still not working.');
      expect(reading.quoted, header).toEqual([{ from: { name, email }, body: 'Did the reset help?', kind: 'reply' }]);
    }
  });

  it('keeps the sender\'s words written below a quote (bottom-posting)', () => {
    const reading = readMail(mail('> Which printer is it?', '', 'The one on the second floor, by the kitchen.'));
    expect(reading.body).toBe('The one on the second floor, by the kitchen.');
    expect(reading.quoted).toEqual([{ from: { name: null, email: null }, body: 'Which printer is it?', kind: 'reply' }]);
  });

  it('reads an Outlook reply ("RE:" subject, header block) as a reply', () => {
    const reading = readMail(
      mail(
        'RE: Shared mailbox',
        '',
        'Yes please, full access.',
        '',
        '________________________________',
        'From: Service Desk <servicedesk@msp.example>',
        'Sent: Tuesday, April 8, 2025 9:14 AM',
        'To: Alex Wilber <alex.wilber@contoso.example>',
        'Subject: Shared mailbox',
        '',
        'Do you need full access or send-as only?',
      ),
    );
    expect(reading.body).toBe('Shared mailbox\n\nYes please, full access.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Service Desk', email: 'servicedesk@msp.example' }, body: 'Do you need full access or send-as only?', kind: 'reply' },
    ]);
  });
});

type MailAuthorCase = [string | null, string | null];

describe('readMail: Outlook header blocks and nesting', () => {
  it('reads a German Outlook reply chain: signature, company footer and disclaimer go, each message its own', () => {
    const reading = readMail(
      mail(
        'AW: Neuer Mitarbeiter - Zugang SAP',
        '',
        'Guten Tag,',
        '',
        'anbei die Freigabe vom Abteilungsleiter. Bitte richten Sie den Zugang bis Montag ein.',
        '',
        'Beste Grüße / Best regards',
        '',
        'Jonas Schmidt',
        'Teamleiter Einkauf',
        '',
        'Contoso GmbH | Musterstraße 1 | 10115 Berlin',
        'Tel.: +49 30 1234567 | Fax: +49 30 1234568',
        '',
        'Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte sofort den Absender.',
        '',
        'Von: Klaus Weber <klaus.weber@contoso.example>',
        'Gesendet: Montag, 7. April 2025 16:40',
        'An: Jonas Schmidt <jonas.schmidt@contoso.example>',
        'Cc: IT-Service <it@msp.example>',
        'Betreff: AW: Neuer Mitarbeiter - Zugang SAP',
        '',
        'Hallo Jonas,',
        '',
        'freigegeben.',
        '',
        'Gruß',
        'Klaus',
        '',
        'Von: Jonas Schmidt',
        'Gesendet: Montag, 7. April 2025 15:02',
        'An: Klaus Weber',
        'Betreff: Neuer Mitarbeiter - Zugang SAP',
        '',
        'Hallo Klaus,',
        'kannst du den SAP-Zugang für Frau Vance freigeben?',
        'Danke!',
        'Jonas',
      ),
    );
    expect(reading.body).toBe('Neuer Mitarbeiter - Zugang SAP\n\nanbei die Freigabe vom Abteilungsleiter. Bitte richten Sie den Zugang bis Montag ein.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Klaus Weber', email: 'klaus.weber@contoso.example' }, body: 'freigegeben.', kind: 'reply' },
      { from: { name: 'Jonas Schmidt', email: null }, body: 'kannst du den SAP-Zugang für Frau Vance freigeben?', kind: 'reply' },
    ]);
  });

  it('finds an Outlook header block without a separator line, in each language', () => {
    const blocks: [string[], MailAuthorCase][] = [
      [['From: Alex Wilber [mailto:alex.wilber@contoso.example]', 'Sent: Tuesday, April 8, 2025 9:14 AM', 'To: IT', 'Subject: Visio'], ['Alex Wilber', 'alex.wilber@contoso.example']],
      [['Von: Wilber, Alex <alex.wilber@contoso.example>', 'Gesendet: Dienstag, 8. April 2025 09:14', 'An: IT', 'Betreff: Visio'], ['Alex Wilber', 'alex.wilber@contoso.example']],
      [['De : Alex Wilber <alex.wilber@contoso.example>', 'Envoyé : mardi 8 avril 2025 09:14', 'À : IT', 'Objet : Visio'], ['Alex Wilber', 'alex.wilber@contoso.example']],
      [['De: Alex Wilber <alex.wilber@contoso.example>', 'Enviado el: martes, 8 de abril de 2025 9:14', 'Para: IT', 'Asunto: Visio'], ['Alex Wilber', 'alex.wilber@contoso.example']],
      [['Van: Alex Wilber <alex.wilber@contoso.example>', 'Verzonden: dinsdag 8 april 2025 09:14', 'Aan: IT', 'Onderwerp: Visio'], ['Alex Wilber', 'alex.wilber@contoso.example']],
      [['From: alex.wilber@contoso.example', 'Sent: Tuesday, April 8, 2025 9:14 AM', 'To: IT', 'Subject: Visio'], [null, 'alex.wilber@contoso.example']],
      [['From: Alex Wilber', 'Sent: Tuesday, April 8, 2025 9:14 AM', 'To: IT', 'Subject: Visio'], ['Alex Wilber', null]],
    ];
    for (const [block, [name, email]] of blocks) {
      const reading = readMail(mail('FW: Visio', '', 'Can you help Alex with this?', '', ...block, '', 'I need Visio for the floor plans.'));
      expect(reading.body, block[0]).toBe('Visio\n\nCan you help Alex with this?');
      expect(reading.quoted, block[0]).toEqual([{ from: { name, email }, body: 'I need Visio for the floor plans.', kind: 'forward' }]);
    }
  });

  it('reads "-----Original Message-----" as a forward under a forward subject', () => {
    const reading = readMail(
      mail(
        'FW: Adobe',
        'Please action.',
        '',
        '-----Original Message-----',
        'From: Nestor Wilke <nestor.wilke@contoso.example>',
        'Sent: Tuesday, April 8, 2025 9:14 AM',
        'To: Megan Bowen <megan.bowen@contoso.example>',
        'Subject: Adobe',
        '',
        'I would like Adobe Acrobat Pro for contract redlines.',
      ),
    );
    expect(reading.body).toBe('Adobe\nPlease action.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Nestor Wilke', email: 'nestor.wilke@contoso.example' }, body: 'I would like Adobe Acrobat Pro for contract redlines.', kind: 'forward' },
    ]);
  });

  it('reads a forward of a forward, outermost first', () => {
    const reading = readMail(
      mail(
        'FW: FW: Power BI',
        '',
        'Hello IT,',
        'Approved from my side, please go ahead.',
        '',
        'Best regards,',
        'Megan Bowen',
        'Head of Marketing',
        '',
        'From: Lee Gu <lee.gu@contoso.example>',
        'Sent: Tuesday, April 8, 2025 10:02 AM',
        'To: Megan Bowen <megan.bowen@contoso.example>',
        'Subject: FW: Power BI',
        '',
        'Megan, can you approve this for Diego?',
        '',
        'Thanks,',
        'Lee',
        '',
        'From: Diego Siciliani <diego.siciliani@contoso.example>',
        'Sent: Tuesday, April 8, 2025 9:14 AM',
        'To: Lee Gu <lee.gu@contoso.example>',
        'Subject: Power BI',
        '',
        'Hi Lee,',
        'I need a Power BI Pro licence to publish the campaign dashboard.',
        '',
        'Cheers,',
        'Diego',
      ),
    );
    expect(reading.body).toBe('Power BI\n\nApproved from my side, please go ahead.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Lee Gu', email: 'lee.gu@contoso.example' }, body: 'Megan, can you approve this for Diego?', kind: 'forward' },
      {
        from: { name: 'Diego Siciliani', email: 'diego.siciliani@contoso.example' },
        body: 'I need a Power BI Pro licence to publish the campaign dashboard.',
        kind: 'forward',
      },
    ]);
  });

  it('reads a forward whose note is only a sign-off as a forward with no words of the sender', () => {
    const reading = readMail(
      mail('Thanks,', 'Megan Bowen', 'Head of Marketing', '', '-----Original Message-----', 'From: Lee Gu <lee.gu@contoso.example>', 'Sent: Tuesday, April 8, 2025 9:14 AM', 'To: Megan Bowen <megan.bowen@contoso.example>', 'Subject: Canva', '', 'I need Canva for the social posts.'),
    );
    expect(reading.body).toBe('');
    expect(reading.quoted).toEqual([{ from: { name: 'Lee Gu', email: 'lee.gu@contoso.example' }, body: 'I need Canva for the social posts.', kind: 'forward' }]);
  });

  it('reads a forward of a reply: the inner message is the reply history', () => {
    const reading = readMail(
      mail(
        '---------- Forwarded message ---------',
        'From: Alex Wilber <alex.wilber@contoso.example>',
        'Subject: Re: Laptop',
        '',
        'Still slow, see below.',
        '',
        'On Tue, Apr 8, 2025 at 9:14 AM Lee Gu <lee.gu@contoso.example> wrote:',
        '> Is your laptop still slow?',
      ),
    );
    expect(reading.body).toBe('');
    expect(reading.quoted.map((q) => [q.from.name, q.body, q.kind])).toEqual([
      ['Alex Wilber', 'Still slow, see below.', 'forward'],
      ['Lee Gu', 'Is your laptop still slow?', 'reply'],
    ]);
  });
});

describe('readMail: what mail gateways and clients add', () => {
  it('reads through an "[EXTERNAL]" tag on the subject to its "RE:" prefix', () => {
    const reading = readMail(
      mail(
        '[EXTERNAL] RE: Teams phone number',
        'Yes, the Munich office.',
        '',
        'From: Service Desk <servicedesk@msp.example>',
        'Sent: Tuesday, April 8, 2025 9:14 AM',
        'To: Lee Gu <lee.gu@contoso.example>',
        'Subject: Teams phone number',
        '',
        'Which office should the number be in?',
      ),
    );
    expect(reading.body).toBe('Teams phone number\nYes, the Munich office.');
    expect(reading.quoted[0]?.kind).toBe('reply');
  });

  it('reads Windows line ends and Markdown-bold headers', () => {
    const text = [
      'Over to you.',
      '',
      '---------- Forwarded message ---------',
      '**From:** **Alex Wilber** <alex.wilber@contoso.example>',
      '**Date:** Tue, Apr 8, 2025 at 9:14 AM',
      '**Subject:** Zoom',
      '**To:** <it@contoso.example>',
      '',
      'Can I have a Zoom licence?',
    ].join('\r\n');
    const reading = readMail(text);
    expect(reading.body).toBe('Over to you.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Alex Wilber', email: 'alex.wilber@contoso.example' }, body: 'Can I have a Zoom licence?', kind: 'forward' },
    ]);
  });

  it('reads quotes within quotes as reply history, outermost first', () => {
    const reading = readMail(
      mail(
        'Now it fails again.',
        '',
        'On Wed, Apr 9, 2025 at 8:00 AM Lee Gu <lee.gu@contoso.example> wrote:',
        '> Thanks, it works now.',
        '>',
        '> On Tue, Apr 8, 2025 at 9:14 AM Helpdesk <helpdesk@msp.example> wrote:',
        '> > We reset the sync client.',
      ),
    );
    expect(reading.body).toBe('Now it fails again.');
    expect(reading.quoted.map((q) => [q.from.email, q.body, q.kind])).toEqual([
      ['lee.gu@contoso.example', 'Thanks, it works now.', 'reply'],
      ['helpdesk@msp.example', 'We reset the sync client.', 'reply'],
    ]);
  });

  it('keeps a greeting-like line that is not on the first lines', () => {
    const text = mail('Printer on floor 2 is jammed.', 'Paper tray 3.', 'Model HP 400.', 'Hi team', 'also the toner is low.');
    expect(readMail(text).body).toBe(text);
  });
});

describe('readMail: mails that lost their line breaks', () => {
  it('splits a forward flattened into one line, Gmail header order', () => {
    const reading = readMail(
      'Hi IT, please look at this for Lee. ---------- Forwarded message --------- From: Lee Gu <lee.gu@contoso.example> Date: Tue, Apr 8, 2025 at 9:14 AM Subject: Figma To: Megan Bowen <megan.bowen@contoso.example> Could I get a Figma seat for the rebrand?',
    );
    expect(reading.body).toBe('Hi IT, please look at this for Lee.');
    expect(reading.quoted).toEqual([
      { from: { name: 'Lee Gu', email: 'lee.gu@contoso.example' }, body: 'Could I get a Figma seat for the rebrand?', kind: 'forward' },
    ]);
  });

  it('splits a flattened Outlook header block; the words start at the greeting after the subject', () => {
    const reading = readMail(
      'Please handle. Von: Jonas Schmidt <jonas.schmidt@contoso.example> Gesendet: Dienstag, 8. April 2025 09:14 An: IT <it@contoso.example> Betreff: Drucker Hallo, der Drucker im 2. Stock druckt nicht.',
    );
    expect(reading.body).toBe('Please handle.');
    expect(reading.quoted[0]?.from).toEqual({ name: 'Jonas Schmidt', email: 'jonas.schmidt@contoso.example' });
    expect(reading.quoted[0]?.body).toBe('Hallo, der Drucker im 2. Stock druckt nicht.');
  });

  it('keeps the subject with the words when it cannot tell where the subject ends', () => {
    const reading = readMail(
      'FYI From: Lee Gu <lee.gu@contoso.example> Sent: Tuesday, April 8, 2025 9:14 AM To: IT <it@contoso.example> Subject: Figma seat needed for the rebrand',
    );
    expect(reading.quoted[0]?.body).toBe('Figma seat needed for the rebrand');
  });

  it('leaves words like "forwarded message" and "from:" in a sentence alone', () => {
    const text = 'I got a forwarded message from Lee about Figma, can you help? She needs it from: Monday to: Friday, subject: rebrand';
    expect(readMail(text)).toEqual({ body: text, quoted: [] });
  });
});

describe('readMail: device footers', () => {
  it('drops device footers in every language', () => {
    const footers = [
      'Sent from my iPhone',
      'Sent from Outlook for Android',
      'Sent from Yahoo Mail on Android',
      'Get Outlook for iOS',
      'Von meinem iPhone gesendet',
      'Envoyé de mon iPhone',
      'Enviado desde mi iPhone',
      'Verzonden vanaf mijn iPhone',
    ];
    for (const footer of footers) {
      expect(readMail(mail('Teams keeps crashing on my phone.', '', footer)).body, footer).toBe('Teams keeps crashing on my phone.');
    }
  });
});

describe('parseAuthor', () => {
  it('reads the From line forms mail clients write', () => {
    expect(parseAuthor('Alex Wilber <alex.wilber@contoso.example>')).toEqual({ name: 'Alex Wilber', email: 'alex.wilber@contoso.example' });
    expect(parseAuthor('alex.wilber@contoso.example')).toEqual({ name: null, email: 'alex.wilber@contoso.example' });
    expect(parseAuthor('"Wilber, Alex" <Alex.Wilber@Contoso.example>')).toEqual({ name: 'Alex Wilber', email: 'alex.wilber@contoso.example' });
    expect(parseAuthor('Alex Wilber [mailto:alex.wilber@contoso.example]')).toEqual({ name: 'Alex Wilber', email: 'alex.wilber@contoso.example' });
    expect(parseAuthor('Alex Wilber')).toEqual({ name: 'Alex Wilber', email: null });
    expect(parseAuthor('')).toEqual({ name: null, email: null });
  });
});

describe('readMail: speed on hostile input', () => {
  const pathological = [
    'a'.repeat(200_000),
    `On ${'x '.repeat(100_000)}`,
    '> '.repeat(100_000),
    '>'.repeat(200_000),
    'Thanks,\n\n'.repeat(25_000),
    '-----Original Message-----\nFrom: a\nSent: b\nTo: c\n'.repeat(4_000),
    `${'a@'.repeat(50_000)}.x`,
    'From: x\nSent: y\nTo: z\n'.repeat(8_000),
    'Hi team,\n'.repeat(25_000),
    `CONFIDENTIALITY NOTICE ${'confidential '.repeat(15_000)}`,
    'This message '.repeat(15_000),
    'On Mon, 1 Jan 2025 at 10:00, '.repeat(7_000),
    `Am ${'schrieb '.repeat(48)}\n`.repeat(500),
    `Op ${'schreef heeft '.repeat(27)}x:\n`.repeat(500),
    `> ${'Thanks '.repeat(56)}\n`.repeat(500),
    'x'.concat('-'.repeat(200_000), ' forwarded message'),
    '-- forwarded message '.repeat(9_000),
    'From: a <b@c.d> Sent: x To: y '.repeat(7_000),
    `x ---------- Forwarded message --------- From: a Date: 1 To: ${'<a@b.c>, '.repeat(20_000)}`,
  ];
  for (const [n, text] of pathological.entries()) {
    it(`reads a ${Math.round(text.length / 1000)} kB hostile input #${n} quickly`, () => {
      const started = performance.now();
      readMail(text);
      expect(performance.now() - started).toBeLessThan(500);
    });
  }
});

describe('readMail: mail-shaped noise', () => {
  const tokens = [
    '\n', '\n\n', ' ', '>', '> ', '-', '----------', '_________', 'Forwarded message', 'Begin forwarded message:', 'From: ',
    'Sent: ', 'To: ', 'Subject: ', 'Von: ', 'De : ', 'On ', ' wrote:', 'Am ', ' schrieb ', 'Thanks,', 'Kind regards', 'Hi team,',
    'Alex Wilber', '<alex@contoso.example>', '[mailto:a@b.cd]', '"Wilber, Alex"', '2025', '10:02 AM', ',', ':', 'I need Zendesk.',
    'CONFIDENTIALITY NOTICE', 'This e-mail is confidential', 'Sent from my iPhone', 'FW: ', 'RE: ', '[EXTERNAL]', 'P.S. ',
  ];
  const noise = fc.array(fc.constantFrom(...tokens), { minLength: 0, maxLength: 3000 }).map((parts) => parts.join(''));

  it('reads any mix of mail conventions quickly and makes no words up', () => {
    fc.assert(
      fc.property(noise, (text) => {
        const started = performance.now();
        const reading = readMail(text);
        expect(performance.now() - started).toBeLessThan(250);
        expect(reading.quoted.length).toBeLessThanOrEqual(12);
        // Nothing is made up: every line read is a line (or part of a line) of the text.
        for (const line of [reading.body, ...reading.quoted.map((q) => q.body)].join('\n').split('\n')) {
          expect(text.includes(line.replace(/^[> ]+/, '').trim())).toBe(true);
        }
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});

describe('readMail: assembled mails', () => {
  const greetings = ['', 'Hi team,', 'Hallo zusammen,', 'Bonjour,', 'Hola,', 'Beste helpdesk,', 'Dear helpdesk,'];
  const asks = [
    'Could I have a Zendesk agent seat?',
    'Thanks for sorting my password last week; now I need Zendesk.',
    'Please add Nestor to the Sales Team group, thank you for checking.',
    'Bitte Visio für mich freischalten.',
    "J'ai besoin d'un accès à Tableau.",
    'Necesito una licencia de Power BI.',
    'Ik heb toegang tot Jira nodig.',
  ];
  const signOffs = ['', 'Thanks,', 'Best regards,', 'Mit freundlichen Grüßen', 'Cordialement,', 'Un saludo,', 'Met vriendelijke groet,'];
  const footers = ['', 'Sent from my iPhone', 'Von meinem iPhone gesendet', 'Envoyé de mon iPhone'];
  const disclaimers = ['', 'This e-mail and any attachments are confidential and intended solely for the addressee.'];
  const separators = ['---------- Forwarded message ---------', '-----Original Message-----', '----- Weitergeleitete Nachricht -----', ''];

  const mails = fc.record({
    greeting: fc.constantFrom(...greetings),
    ask: fc.constantFrom(...asks),
    signOff: fc.constantFrom(...signOffs),
    footer: fc.constantFrom(...footers),
    disclaimer: fc.constantFrom(...disclaimers),
    separator: fc.constantFrom(...separators),
    quotedAsk: fc.constantFrom(...asks),
  });

  it('keeps the ask in the body, drops the signature, and reads the forwarded ask as the quoted author\'s', () => {
    fc.assert(
      fc.property(mails, (m) => {
        const own = [m.greeting, '', m.ask, '', ...(m.signOff === '' ? [] : [m.signOff, 'Quinn Forwarder', 'Office Manager']), '', m.footer, '', m.disclaimer];
        const forward =
          m.separator === ''
            ? []
            : ['', m.separator, 'From: Alex Wilber <alex.wilber@contoso.example>', 'Sent: Tuesday, April 8, 2025 9:14 AM', 'To: IT', 'Subject: Access', '', m.quotedAsk];
        const reading = readMail(mail(...own, ...forward));
        // A text with no convention in it comes back as written, blank lines and all.
        expect(reading.body.trim()).toBe(m.ask);
        if (m.separator === '') {
          expect(reading.quoted).toEqual([]);
        } else {
          expect(reading.quoted).toEqual([{ from: { name: 'Alex Wilber', email: 'alex.wilber@contoso.example' }, body: m.quotedAsk, kind: 'forward' }]);
        }
      }),
      { seed: 13, numRuns: 400 },
    );
  });
});
