/** The page the ticket's note links to (`/approvals/<id>`): the approval page of ApprovalDetail.tsx. */
export { ApprovalDetailPage as ApprovalPage } from './ApprovalDetail.tsx';
