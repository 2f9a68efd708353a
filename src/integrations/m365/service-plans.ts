import type { ServicePlan } from '../../core/directory.ts';

/**
 * The service plans inside each Microsoft licence SKU the demo world uses, as Microsoft publishes
 * them in "Product names and service plan identifiers for licensing"
 * (https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference, and its
 * CSV), read from the page's source in MicrosoftDocs/entra-docs
 * (docs/identity/users/licensing-service-plan-reference.md, commit 067a0c7b, "last updated on
 * October 29, 2025"). Every row below is copied from that table, in its order: names and GUIDs
 * exactly as published, no plan added, none left out. The emulator serves them as each SKU's
 * `servicePlans`, and the planner's fixture reader reads the same table, so that a suite such as
 * Microsoft 365 E3 is known to bring Teams and the Office apps with it.
 *
 * Notes for readers of the data:
 * - `O365_BUSINESS_PREMIUM` is sold as "Microsoft 365 Business Standard" (the part number predates
 *   the rename; "Microsoft 365 Business Premium" is `SPB`, not used here).
 * - `PROJECTPROFESSIONAL` is listed as "Planner and Project Plan 3" (formerly "Project Plan 3").
 * - OneDrive has no plan of its own in these suites: it comes with SharePoint
 *   (`SHAREPOINTENTERPRISE`, `SHAREPOINTSTANDARD`); Visio Plan 2 carries `ONEDRIVE_BASIC`.
 * - Office for the web is `SHAREPOINTWAC`; the desktop apps are `OFFICESUBSCRIPTION` (Microsoft 365
 *   Apps for enterprise) and `OFFICE_BUSINESS` (Microsoft 365 Apps for business).
 * - The demo world's SKU ids are the emulator's own (`deterministicUuid`), not Microsoft's; the
 *   published SKU GUID is noted above each list for reference.
 */

/** One service plan as Microsoft's table lists it. */
export interface PublishedServicePlan {
  readonly servicePlanName: string;
  readonly servicePlanId: string;
}

export const SKU_SERVICE_PLANS: Readonly<Record<string, readonly PublishedServicePlan[]>> = {
  /** Microsoft 365 E3 (skuId 05e9a617-0261-4cee-bb44-138d3ef5d965 in Microsoft's table), 50 plans. */
  SPE_E3: [
    { servicePlanName: 'MESH_AVATARS_FOR_TEAMS', servicePlanId: 'dcf9d2f4-772e-4434-b757-77a453cfbc02' },
    { servicePlanName: 'MESH_AVATARS_ADDITIONAL_FOR_TEAMS', servicePlanId: '3efbd4ed-8958-4824-8389-1321f8730af8' },
    { servicePlanName: 'RMS_S_ENTERPRISE', servicePlanId: 'bea4c11e-220a-4e6d-8eb8-8ea15d019f90' },
    { servicePlanName: 'CDS_O365_P2', servicePlanId: '95b76021-6a53-4741-ab8b-1d1f3d66a95a' },
    { servicePlanName: 'EXCHANGE_S_ENTERPRISE', servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0' },
    { servicePlanName: 'GRAPH_CONNECTORS_SEARCH_INDEX', servicePlanId: 'a6520331-d7d4-4276-95f5-15c0933bc757' },
    { servicePlanName: 'MESH_IMMERSIVE_FOR_TEAMS', servicePlanId: 'f0ff6ac6-297d-49cd-be34-6dfef97f0c28' },
    { servicePlanName: 'ContentExplorer_Standard', servicePlanId: '2b815d45-56e4-4e3a-b65c-66cb9175b560' },
    { servicePlanName: 'MIP_S_CLP1', servicePlanId: '5136a095-5cf0-4aff-bec3-e84448b38ea5' },
    { servicePlanName: 'MYANALYTICS_P2', servicePlanId: '33c4f319-9bdd-48d6-9c4d-410b750a4a5a' },
    { servicePlanName: 'OFFICESUBSCRIPTION', servicePlanId: '43de0ff5-c92c-492b-9116-175376d08c38' },
    { servicePlanName: 'M365_LIGHTHOUSE_CUSTOMER_PLAN1', servicePlanId: '6f23d6a9-adbf-481c-8538-b4c095654487' },
    { servicePlanName: 'M365_LIGHTHOUSE_PARTNER_PLAN1', servicePlanId: 'd55411c9-cfff-40a9-87c7-240f14df7da5' },
    { servicePlanName: 'MICROSOFTBOOKINGS', servicePlanId: '199a5c09-e0ca-4e37-8f7c-b05d533e1ea2' },
    { servicePlanName: 'CLIPCHAMP', servicePlanId: 'a1ace008-72f3-4ea0-8dac-33b3a23a2472' },
    { servicePlanName: 'MDE_LITE', servicePlanId: '292cc034-7b7c-4950-aaf5-943befd3f1d4' },
    { servicePlanName: 'FORMS_PLAN_E3', servicePlanId: '2789c901-c14e-48ab-a76a-be334d9d793a' },
    { servicePlanName: 'KAIZALA_O365_P3', servicePlanId: 'aebd3021-9f8f-4bf8-bbe3-0ed2f4f047a1' },
    { servicePlanName: 'MICROSOFT_LOOP', servicePlanId: 'c4b8c31a-fb44-4c65-9837-a21f55fcabda' },
    { servicePlanName: 'PROJECTWORKMANAGEMENT', servicePlanId: 'b737dad2-2f6c-4c65-90e3-ca563267e8b9' },
    { servicePlanName: 'MICROSOFT_SEARCH', servicePlanId: '94065c59-bc8e-4e8b-89e5-5138d471eaff' },
    { servicePlanName: 'Deskless', servicePlanId: '8c7d2df8-86f0-4902-b2ed-a0458298f3b3' },
    { servicePlanName: 'STREAM_O365_E3', servicePlanId: '9e700747-8b1d-45e5-ab8d-ef187ceec156' },
    { servicePlanName: 'TEAMS1', servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929' },
    { servicePlanName: 'INTUNE_O365', servicePlanId: '882e1d05-acd1-4ccb-8708-6ee03664b117' },
    { servicePlanName: 'Nucleus', servicePlanId: 'db4d623d-b514-490b-b7ef-8885eee514de' },
    { servicePlanName: 'SHAREPOINTWAC', servicePlanId: 'e95bec33-7c88-4a70-8e19-b10bd9d0c014' },
    { servicePlanName: 'PROJECT_O365_P2', servicePlanId: '31b4e2fc-4cd6-4e7d-9c1b-41407303bd66' },
    { servicePlanName: 'Bing_Chat_Enterprise', servicePlanId: '0d0c0d31-fae7-41f2-b909-eaf4d7f26dba' },
    { servicePlanName: 'SHAREPOINTENTERPRISE', servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72' },
    { servicePlanName: 'MCOSTANDARD', servicePlanId: '0feaeb32-d00e-4d66-bd5a-43b5b83db82c' },
    { servicePlanName: 'SWAY', servicePlanId: 'a23b959c-7ce8-4e57-9140-b90eb88a9e97' },
    { servicePlanName: 'BPOS_S_TODO_2', servicePlanId: 'c87f142c-d1e9-4363-8630-aaea9c4d9ae5' },
    { servicePlanName: 'VIVAENGAGE_CORE', servicePlanId: 'a82fbf69-b4d7-49f4-83a6-915b2cf354f4' },
    { servicePlanName: 'VIVA_LEARNING_SEEDED', servicePlanId: 'b76fb638-6ba6-402a-b9f9-83d28acb3d86' },
    { servicePlanName: 'WHITEBOARD_PLAN2', servicePlanId: '94a54592-cd8b-425e-87c6-97868b000b91' },
    { servicePlanName: 'YAMMER_ENTERPRISE', servicePlanId: '7547a3fe-08ee-4ccb-b430-5077c5041653' },
    { servicePlanName: 'UNIVERSAL_PRINT_01', servicePlanId: '795f6fe0-cc4d-4773-b050-5dde4dc704c9' },
    { servicePlanName: 'WIN10_PRO_ENT_SUB', servicePlanId: '21b439ba-a0ca-424f-a6cc-52f954a5b111' },
    { servicePlanName: 'Windows_Autopatch', servicePlanId: '9a6eeb79-0b4b-4bf0-9808-39d99a2cd5a3' },
    { servicePlanName: 'WINDOWSUPDATEFORBUSINESS_DEPLOYMENTSERVICE', servicePlanId: '7bf960f6-2cd9-443a-8046-5dbff9558365' },
    { servicePlanName: 'RMS_S_PREMIUM', servicePlanId: '6c57d4b6-3b23-47a5-9bc9-69f17b4947b3' },
    { servicePlanName: 'DYN365_CDS_O365_P2', servicePlanId: '4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14' },
    { servicePlanName: 'MFA_PREMIUM', servicePlanId: '8a256a2b-b617-496d-b51b-e76466e88db0' },
    { servicePlanName: 'ADALLOM_S_DISCOVERY', servicePlanId: '932ad362-64a8-4783-9106-97849a1a30b9' },
    { servicePlanName: 'AAD_PREMIUM', servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d' },
    { servicePlanName: 'INTUNE_A', servicePlanId: 'c1ec4a95-1f05-45b3-a911-aa3fa01094f5' },
    { servicePlanName: 'POWERAPPS_O365_P2', servicePlanId: 'c68f8d98-5534-41c8-bf36-22fa496fa792' },
    { servicePlanName: 'FLOW_O365_P2', servicePlanId: '76846ad7-7776-4c40-a281-a386362dd1b9' },
    { servicePlanName: 'POWER_VIRTUAL_AGENTS_O365_P2', servicePlanId: '041fe683-03e4-45b6-b1af-c0cdc516daee' },
  ],
  /** Microsoft 365 E5 (skuId 06ebc4ee-1bb5-47dd-8120-11324bc54e06 in Microsoft's table), 86 plans. */
  SPE_E5: [
    { servicePlanName: 'MESH_AVATARS_FOR_TEAMS', servicePlanId: 'dcf9d2f4-772e-4434-b757-77a453cfbc02' },
    { servicePlanName: 'MESH_AVATARS_ADDITIONAL_FOR_TEAMS', servicePlanId: '3efbd4ed-8958-4824-8389-1321f8730af8' },
    { servicePlanName: 'RMS_S_ENTERPRISE', servicePlanId: 'bea4c11e-220a-4e6d-8eb8-8ea15d019f90' },
    { servicePlanName: 'Bing_Chat_Enterprise', servicePlanId: '0d0c0d31-fae7-41f2-b909-eaf4d7f26dba' },
    { servicePlanName: 'CDS_O365_P3', servicePlanId: 'afa73018-811e-46e9-988f-f75d2b1b8430' },
    { servicePlanName: 'LOCKBOX_ENTERPRISE', servicePlanId: '9f431833-0334-42de-a7dc-70aa40db46db' },
    { servicePlanName: 'CustomerLockboxA_Enterprise', servicePlanId: '3ec18638-bd4c-4d3b-8905-479ed636b83e' },
    { servicePlanName: 'MIP_S_Exchange', servicePlanId: 'cd31b152-6326-4d1b-ae1b-997b625182e6' },
    { servicePlanName: 'EXCHANGE_S_ENTERPRISE', servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0' },
    { servicePlanName: 'GRAPH_CONNECTORS_SEARCH_INDEX', servicePlanId: 'a6520331-d7d4-4276-95f5-15c0933bc757' },
    { servicePlanName: 'MESH_IMMERSIVE_FOR_TEAMS', servicePlanId: 'f0ff6ac6-297d-49cd-be34-6dfef97f0c28' },
    { servicePlanName: 'INFORMATION_BARRIERS', servicePlanId: 'c4801e8a-cb58-4c35-aca6-f2dcc106f287' },
    { servicePlanName: 'Content_Explorer', servicePlanId: 'd9fa6af4-e046-4c89-9226-729a0786685d' },
    { servicePlanName: 'ContentExplorer_Standard', servicePlanId: '2b815d45-56e4-4e3a-b65c-66cb9175b560' },
    { servicePlanName: 'MIP_S_CLP2', servicePlanId: 'efb0351d-3b08-4503-993d-383af8de41e3' },
    { servicePlanName: 'MIP_S_CLP1', servicePlanId: '5136a095-5cf0-4aff-bec3-e84448b38ea5' },
    { servicePlanName: 'MYANALYTICS_P2', servicePlanId: '33c4f319-9bdd-48d6-9c4d-410b750a4a5a' },
    { servicePlanName: 'M365_ADVANCED_AUDITING', servicePlanId: '2f442157-a11c-46b9-ae5b-6e39ff4e5849' },
    { servicePlanName: 'OFFICESUBSCRIPTION', servicePlanId: '43de0ff5-c92c-492b-9116-175376d08c38' },
    { servicePlanName: 'MCOMEETADV', servicePlanId: '3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40' },
    { servicePlanName: 'M365_AUDIT_PLATFORM', servicePlanId: 'f6de4823-28fa-440b-b886-4783fa86ddba' },
    { servicePlanName: 'MICROSOFT_COMMUNICATION_COMPLIANCE', servicePlanId: 'a413a9ff-720c-4822-98ef-2f37c2a21f4c' },
    { servicePlanName: 'MTP', servicePlanId: 'bf28f719-7844-4079-9c78-c1307898e192' },
    { servicePlanName: 'M365_LIGHTHOUSE_CUSTOMER_PLAN1', servicePlanId: '6f23d6a9-adbf-481c-8538-b4c095654487' },
    { servicePlanName: 'MCOEV', servicePlanId: '4828c8ec-dc2e-4779-b502-87ac9ce28ab7' },
    { servicePlanName: 'MICROSOFTBOOKINGS', servicePlanId: '199a5c09-e0ca-4e37-8f7c-b05d533e1ea2' },
    { servicePlanName: 'CLIPCHAMP', servicePlanId: 'a1ace008-72f3-4ea0-8dac-33b3a23a2472' },
    { servicePlanName: 'COMMUNICATIONS_DLP', servicePlanId: '6dc145d6-95dd-4191-b9c3-185575ee6f6b' },
    { servicePlanName: 'CUSTOMER_KEY', servicePlanId: '6db1f1db-2b46-403f-be40-e39395f08dbb' },
    { servicePlanName: 'DATA_INVESTIGATIONS', servicePlanId: '46129a58-a698-46f0-aa5b-17f6586297d9' },
    { servicePlanName: 'ATP_ENTERPRISE', servicePlanId: 'f20fedf3-f3c3-43c3-8267-2bfdd51c0939' },
    { servicePlanName: 'THREAT_INTELLIGENCE', servicePlanId: '8e0c0a52-6a6c-4d40-8370-dd62790dcd70' },
    { servicePlanName: 'EXCEL_PREMIUM', servicePlanId: '531ee2f8-b1cb-453b-9c21-d2180d014ca5' },
    { servicePlanName: 'FORMS_PLAN_E5', servicePlanId: 'e212cbc7-0961-4c40-9825-01117710dcb1' },
    { servicePlanName: 'INFO_GOVERNANCE', servicePlanId: 'e26c2fcc-ab91-4a61-b35c-03cdc8dddf66' },
    { servicePlanName: 'INSIDER_RISK', servicePlanId: 'd587c7a3-bda9-4f99-8776-9bcf59c84f75' },
    { servicePlanName: 'KAIZALA_STANDALONE', servicePlanId: '0898bdbb-73b0-471a-81e5-20f1fe4dd66e' },
    { servicePlanName: 'MICROSOFT_LOOP', servicePlanId: 'c4b8c31a-fb44-4c65-9837-a21f55fcabda' },
    { servicePlanName: 'ML_CLASSIFICATION', servicePlanId: 'd2d51368-76c9-4317-ada2-a12c004c432f' },
    { servicePlanName: 'EXCHANGE_ANALYTICS', servicePlanId: '34c0d7a0-a70f-4668-9238-47f9fc208882' },
    { servicePlanName: 'PROJECTWORKMANAGEMENT', servicePlanId: 'b737dad2-2f6c-4c65-90e3-ca563267e8b9' },
    { servicePlanName: 'RECORDS_MANAGEMENT', servicePlanId: '65cc641f-cccd-4643-97e0-a17e3045e541' },
    { servicePlanName: 'MICROSOFT_SEARCH', servicePlanId: '94065c59-bc8e-4e8b-89e5-5138d471eaff' },
    { servicePlanName: 'Deskless', servicePlanId: '8c7d2df8-86f0-4902-b2ed-a0458298f3b3' },
    { servicePlanName: 'STREAM_O365_E5', servicePlanId: '6c6042f5-6f01-4d67-b8c1-eb99d36eed3e' },
    { servicePlanName: 'TEAMS1', servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929' },
    { servicePlanName: 'INTUNE_O365', servicePlanId: '882e1d05-acd1-4ccb-8708-6ee03664b117' },
    { servicePlanName: 'Nucleus', servicePlanId: 'db4d623d-b514-490b-b7ef-8885eee514de' },
    { servicePlanName: 'EQUIVIO_ANALYTICS', servicePlanId: '4de31727-a228-4ec3-a5bf-8e45b5ca48cc' },
    { servicePlanName: 'ADALLOM_S_O365', servicePlanId: '8c098270-9dd4-4350-9b30-ba4703f3b36b' },
    { servicePlanName: 'PAM_ENTERPRISE', servicePlanId: 'b1188c4c-1b36-4018-b48b-ee07604f6feb' },
    { servicePlanName: 'SAFEDOCS', servicePlanId: 'bf6f5520-59e3-4f82-974b-7dbbc4fd27c7' },
    { servicePlanName: 'SHAREPOINTWAC', servicePlanId: 'e95bec33-7c88-4a70-8e19-b10bd9d0c014' },
    { servicePlanName: 'POWERAPPS_O365_P3', servicePlanId: '9c0dab89-a30c-4117-86e7-97bda240acd2' },
    { servicePlanName: 'BI_AZURE_P2', servicePlanId: '70d33638-9c74-4d01-bfd3-562de28bd4ba' },
    { servicePlanName: 'PREMIUM_ENCRYPTION', servicePlanId: '617b097b-4b93-4ede-83de-5f075bb5fb2f' },
    { servicePlanName: 'PROJECT_O365_P3', servicePlanId: 'b21a6b06-1988-436e-a07b-51ec6d9f52ad' },
    { servicePlanName: 'PURVIEW_DISCOVERY', servicePlanId: 'c948ea65-2053-4a5a-8a62-9eaaaf11b522' },
    { servicePlanName: 'COMMUNICATIONS_COMPLIANCE', servicePlanId: '41fcdd7d-4733-4863-9cf4-c65b83ce2df4' },
    { servicePlanName: 'INSIDER_RISK_MANAGEMENT', servicePlanId: '9d0c4ee5-e4a1-4625-ab39-d82b619b1a34' },
    { servicePlanName: 'SHAREPOINTENTERPRISE', servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72' },
    { servicePlanName: 'MCOSTANDARD', servicePlanId: '0feaeb32-d00e-4d66-bd5a-43b5b83db82c' },
    { servicePlanName: 'SWAY', servicePlanId: 'a23b959c-7ce8-4e57-9140-b90eb88a9e97' },
    { servicePlanName: 'BPOS_S_TODO_3', servicePlanId: '3fb82609-8c27-4f7b-bd51-30634711ee67' },
    { servicePlanName: 'VIVAENGAGE_CORE', servicePlanId: 'a82fbf69-b4d7-49f4-83a6-915b2cf354f4' },
    { servicePlanName: 'VIVA_LEARNING_SEEDED', servicePlanId: 'b76fb638-6ba6-402a-b9f9-83d28acb3d86' },
    { servicePlanName: 'WHITEBOARD_PLAN3', servicePlanId: '4a51bca5-1eff-43f5-878c-177680f191af' },
    { servicePlanName: 'YAMMER_ENTERPRISE', servicePlanId: '7547a3fe-08ee-4ccb-b430-5077c5041653' },
    { servicePlanName: 'WINDEFATP', servicePlanId: '871d91ec-ec1a-452b-a83f-bd76c7d770ef' },
    { servicePlanName: 'MICROSOFTENDPOINTDLP', servicePlanId: '64bfac92-2b17-4482-b5e5-a0304429de3e' },
    { servicePlanName: 'UNIVERSAL_PRINT_01', servicePlanId: '795f6fe0-cc4d-4773-b050-5dde4dc704c9' },
    { servicePlanName: 'WIN10_PRO_ENT_SUB', servicePlanId: '21b439ba-a0ca-424f-a6cc-52f954a5b111' },
    { servicePlanName: 'Windows_Autopatch', servicePlanId: '9a6eeb79-0b4b-4bf0-9808-39d99a2cd5a3' },
    { servicePlanName: 'WINDOWSUPDATEFORBUSINESS_DEPLOYMENTSERVICE', servicePlanId: '7bf960f6-2cd9-443a-8046-5dbff9558365' },
    { servicePlanName: 'RMS_S_PREMIUM', servicePlanId: '6c57d4b6-3b23-47a5-9bc9-69f17b4947b3' },
    { servicePlanName: 'RMS_S_PREMIUM2', servicePlanId: '5689bec4-755d-4753-8b61-40975025187c' },
    { servicePlanName: 'DYN365_CDS_O365_P3', servicePlanId: '28b0fa46-c39a-4188-89e2-58e979a6b014' },
    { servicePlanName: 'Defender_for_Iot_Enterprise', servicePlanId: '99cd49a9-0e54-4e07-aea1-d8d9f5f704f5' },
    { servicePlanName: 'MFA_PREMIUM', servicePlanId: '8a256a2b-b617-496d-b51b-e76466e88db0' },
    { servicePlanName: 'ADALLOM_S_STANDALONE', servicePlanId: '2e2ddb96-6af9-4b1d-a3f0-d6ecfd22edb2' },
    { servicePlanName: 'ATA', servicePlanId: '14ab5db5-e6c4-4b20-b4bc-13e36fd2227f' },
    { servicePlanName: 'AAD_PREMIUM', servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d' },
    { servicePlanName: 'AAD_PREMIUM_P2', servicePlanId: 'eec0eb4f-6444-4f95-aba0-50c24d67f998' },
    { servicePlanName: 'INTUNE_A', servicePlanId: 'c1ec4a95-1f05-45b3-a911-aa3fa01094f5' },
    { servicePlanName: 'FLOW_O365_P3', servicePlanId: '07699545-9485-468e-95b6-2fca3738be01' },
    { servicePlanName: 'POWER_VIRTUAL_AGENTS_O365_P3', servicePlanId: 'ded3d325-1bdc-453e-8432-5bac26d7a014' },
  ],
  /** Microsoft 365 Business Standard (skuId f245ecc8-75af-4f8e-b61f-27d8114de5f3 in Microsoft's table), 37 plans. */
  O365_BUSINESS_PREMIUM: [
    { servicePlanName: 'DYN365BC_MS_INVOICING', servicePlanId: '39b5c996-467e-4e60-bd62-46066f572726' },
    { servicePlanName: 'MESH_AVATARS_FOR_TEAMS', servicePlanId: 'dcf9d2f4-772e-4434-b757-77a453cfbc02' },
    { servicePlanName: 'MESH_AVATARS_ADDITIONAL_FOR_TEAMS', servicePlanId: '3efbd4ed-8958-4824-8389-1321f8730af8' },
    { servicePlanName: 'CDS_O365_P2', servicePlanId: '95b76021-6a53-4741-ab8b-1d1f3d66a95a' },
    { servicePlanName: 'Bing_Chat_Enterprise', servicePlanId: '0d0c0d31-fae7-41f2-b909-eaf4d7f26dba' },
    { servicePlanName: 'EXCHANGE_S_STANDARD', servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c' },
    { servicePlanName: 'MYANALYTICS_P2', servicePlanId: '33c4f319-9bdd-48d6-9c4d-410b750a4a5a' },
    { servicePlanName: 'OFFICE_BUSINESS', servicePlanId: '094e7854-93fc-4d55-b2c0-3ab5369ebdc1' },
    { servicePlanName: 'M365_LIGHTHOUSE_CUSTOMER_PLAN1', servicePlanId: '6f23d6a9-adbf-481c-8538-b4c095654487' },
    { servicePlanName: 'MICROSOFTBOOKINGS', servicePlanId: '199a5c09-e0ca-4e37-8f7c-b05d533e1ea2' },
    { servicePlanName: 'CLIPCHAMP', servicePlanId: 'a1ace008-72f3-4ea0-8dac-33b3a23a2472' },
    { servicePlanName: 'FORMS_PLAN_E1', servicePlanId: '159f4cd6-e380-449f-a816-af1a9ef76344' },
    { servicePlanName: 'KAIZALA_O365_P2', servicePlanId: '54fc630f-5a40-48ee-8965-af0503c1386e' },
    { servicePlanName: 'MICROSOFT_LOOP', servicePlanId: 'c4b8c31a-fb44-4c65-9837-a21f55fcabda' },
    { servicePlanName: 'PROJECTWORKMANAGEMENT', servicePlanId: 'b737dad2-2f6c-4c65-90e3-ca563267e8b9' },
    { servicePlanName: 'MICROSOFT_SEARCH', servicePlanId: '94065c59-bc8e-4e8b-89e5-5138d471eaff' },
    { servicePlanName: 'Deskless', servicePlanId: '8c7d2df8-86f0-4902-b2ed-a0458298f3b3' },
    { servicePlanName: 'TEAMS1', servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929' },
    { servicePlanName: 'INTUNE_O365', servicePlanId: '882e1d05-acd1-4ccb-8708-6ee03664b117' },
    { servicePlanName: 'Nucleus', servicePlanId: 'db4d623d-b514-490b-b7ef-8885eee514de' },
    { servicePlanName: 'SHAREPOINTWAC', servicePlanId: 'e95bec33-7c88-4a70-8e19-b10bd9d0c014' },
    { servicePlanName: 'PROJECT_O365_P2', servicePlanId: '31b4e2fc-4cd6-4e7d-9c1b-41407303bd66' },
    { servicePlanName: 'O365_SB_Relationship_Management', servicePlanId: '5bfe124c-bbdc-4494-8835-f1297d457d79' },
    { servicePlanName: 'SHAREPOINTSTANDARD', servicePlanId: 'c7699d2e-19aa-44de-8edf-1736da088ca1' },
    { servicePlanName: 'MCOSTANDARD', servicePlanId: '0feaeb32-d00e-4d66-bd5a-43b5b83db82c' },
    { servicePlanName: 'STREAM_O365_SMB', servicePlanId: '3c53ea51-d578-46fa-a4c0-fd0a92809a60' },
    { servicePlanName: 'SWAY', servicePlanId: 'a23b959c-7ce8-4e57-9140-b90eb88a9e97' },
    { servicePlanName: 'BPOS_S_TODO_1', servicePlanId: '5e62787c-c316-451f-b873-1d05acd4d12c' },
    { servicePlanName: 'VIVAENGAGE_CORE', servicePlanId: 'a82fbf69-b4d7-49f4-83a6-915b2cf354f4' },
    { servicePlanName: 'VIVA_LEARNING_SEEDED', servicePlanId: 'b76fb638-6ba6-402a-b9f9-83d28acb3d86' },
    { servicePlanName: 'WHITEBOARD_PLAN1', servicePlanId: 'b8afc642-032e-4de5-8c0a-507a7bba7e5d' },
    { servicePlanName: 'YAMMER_ENTERPRISE', servicePlanId: '7547a3fe-08ee-4ccb-b430-5077c5041653' },
    { servicePlanName: 'DYN365_CDS_O365_P2', servicePlanId: '4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14' },
    { servicePlanName: 'RMS_S_BASIC', servicePlanId: '31cf2cfc-6b0d-4adc-a336-88b724ed8122' },
    { servicePlanName: 'POWERAPPS_O365_P1', servicePlanId: '92f7a6f3-b89b-4bbd-8c30-809e6da5ad1c' },
    { servicePlanName: 'FLOW_O365_P1', servicePlanId: '0f9b09cb-62d1-4ff4-9129-43f4996f83f4' },
    { servicePlanName: 'POWER_VIRTUAL_AGENTS_O365_P2', servicePlanId: '041fe683-03e4-45b6-b1af-c0cdc516daee' },
  ],
  /** Visio Plan 2 (skuId c5928f49-12ba-48f7-ada3-0d743a3601d5 in Microsoft's table), 4 plans. */
  VISIOCLIENT: [
    { servicePlanName: 'EXCHANGE_S_FOUNDATION', servicePlanId: '113feb6c-3fe4-4440-bddc-54d774bf0318' },
    { servicePlanName: 'ONEDRIVE_BASIC', servicePlanId: 'da792a53-cbc0-4184-a10d-e544dd34b3c1' },
    { servicePlanName: 'VISIO_CLIENT_SUBSCRIPTION', servicePlanId: '663a804f-1c30-4ff0-9915-9db84f0d1cea' },
    { servicePlanName: 'VISIOONLINE', servicePlanId: '2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f' },
  ],
  /** Planner and Project Plan 3 (skuId 53818b1b-4a27-454b-8896-0dba576410e6 in Microsoft's table), 8 plans. */
  PROJECTPROFESSIONAL: [
    { servicePlanName: 'DYN365_CDS_PROJECT', servicePlanId: '50554c47-71d9-49fd-bc54-42a2765c555c' },
    { servicePlanName: 'EXCHANGE_S_FOUNDATION', servicePlanId: '113feb6c-3fe4-4440-bddc-54d774bf0318' },
    { servicePlanName: 'FLOW_FOR_PROJECT', servicePlanId: 'fa200448-008c-4acb-abd4-ea106ed2199d' },
    { servicePlanName: 'SHAREPOINTWAC', servicePlanId: 'e95bec33-7c88-4a70-8e19-b10bd9d0c014' },
    { servicePlanName: 'PROJECT_CLIENT_SUBSCRIPTION', servicePlanId: 'fafd7243-e5c1-4a3a-9e40-495efcb1d3c3' },
    { servicePlanName: 'SHAREPOINT_PROJECT', servicePlanId: 'fe71d6c3-a2ea-4499-9778-da042bf08063' },
    { servicePlanName: 'PROJECT_PROFESSIONAL', servicePlanId: '818523f5-016b-4355-9be8-ed6944946ea7' },
    { servicePlanName: 'SHAREPOINTENTERPRISE', servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72' },
  ],
  /** Power BI Pro (skuId f8a1db68-be16-40ed-86d5-cb42ce701560 in Microsoft's table), 2 plans. */
  POWER_BI_PRO: [
    { servicePlanName: 'EXCHANGE_S_FOUNDATION', servicePlanId: '113feb6c-3fe4-4440-bddc-54d774bf0318' },
    { servicePlanName: 'BI_AZURE_P2', servicePlanId: '70d33638-9c74-4d01-bfd3-562de28bd4ba' },
  ],
};

/**
 * A SKU's plans as Graph's `servicePlanInfo` (subscribedSku and licenseDetails), all provisioned for
 * users; an empty list for a part number the table does not know, as a reader that cannot tell.
 */
export function servicePlansOf(skuPartNumber: string): ServicePlan[] {
  return (SKU_SERVICE_PLANS[skuPartNumber] ?? []).map((plan) => ({
    servicePlanId: plan.servicePlanId,
    servicePlanName: plan.servicePlanName,
    provisioningStatus: 'Success',
    appliesTo: 'User',
  }));
}
