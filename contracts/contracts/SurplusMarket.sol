// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ISurplusMarket} from "./ISurplusMarket.sol";

/// @title SurplusMarket
/// @notice See {ISurplusMarket}. Parameters are immutable: a city operator that wants other
/// parameters deploys another market (allocations name their market through the EIP-712 domain).
contract SurplusMarket is ISurplusMarket, EIP712 {
    using SafeERC20 for IERC20;

    /// @dev The EIP-712 type strings: byte for byte core's `encodeType()` (a test compares them).
    bytes32 public constant ALLOCATION_TYPEHASH = keccak256(
        "Allocation(address allocator,address customer,address[] suppliers,address mediator,bytes32 customerOffer,bytes32[] supplierOffers,bytes32 serviceHash,uint64 start,uint64 end,uint256 pricePerMi,uint64 miPerInput,uint32 inputsPerSecond,uint32 testCount,uint8 minReplicas,uint64 nonce)"
    );
    bytes32 public constant ACCEPT_TYPEHASH = keccak256("Accept(bytes32 allocationId,bytes32 commitment)");
    bytes32 public constant SUPPLIER_RESULT_TYPEHASH = keccak256("SupplierResult(bytes32 allocationId,bytes32 seal)");

    uint256 private constant _MAX_SUPPLIERS = 16;
    uint256 private constant _BPS = 10_000;

    /// @notice The payment token.
    IERC20 public immutable token;
    /// @notice Receives fines not owed to anyone and payments nobody earned.
    address public immutable treasury;
    /// @notice ρ: the deposit of the Customer and of each Supplier is ρ·π_s (paper eq. 4, 6).
    uint256 public immutable penaltyRate;
    /// @notice F: paid to the Allocator by the Customer and by each running Supplier (π_a).
    uint256 public immutable allocatorFee;
    /// @notice M: paid by the Customer to the Mediator for being available (π_m).
    uint256 public immutable mediatorFee;
    /// @notice Share of D (basis points) a Supplier that posted no result is fined (§3.2 "Timeouts").
    uint256 public immutable timeoutFineBps;
    /// @notice Seconds from `open` until the signing deadline.
    uint256 public immutable signingWindow;
    /// @notice Seconds after `end` in which `settle` may be called.
    uint256 public immutable revealWindow;
    /// @notice Seconds from `settle` until the mediation deadline.
    uint256 public immutable mediationWindow;

    /// @dev One storage slot per allocation.
    struct Record {
        State state; // 5 values
        uint40 deadline; // unix seconds (< 2^40, year 36812): signing deadline, then mediation deadline
        uint16 suppliers; // bit i = suppliers[i] signed (Signing) / runs (later); ≤ 16 Suppliers
        bool customerSigned;
        bool mediatorSigned;
        uint16 disputed; // Suppliers the Customer disputed, ⊆ suppliers
        uint16 mediating; // Suppliers sent to mediation, ⊆ suppliers
    }

    /// @dev Per-allocation amounts, derived from the terms.
    struct Amounts {
        uint256 payment; // P = λΔ·π_s
        uint256 deposit; // D = ρ·π_s
        uint256 inputPrice; // π_s
    }

    mapping(bytes32 id => Record) private _records;
    mapping(bytes32 id => bytes32 commitment) private _commitments;
    mapping(address account => uint256 balance) private _balances;

    constructor(
        IERC20 token_,
        address treasury_,
        uint256 penaltyRate_,
        uint256 allocatorFee_,
        uint256 mediatorFee_,
        uint256 timeoutFineBps_,
        uint256 signingWindow_,
        uint256 revealWindow_,
        uint256 mediationWindow_
    ) EIP712("Surplus", "1") {
        if (address(token_) == address(0)) revert InvalidParameter("token");
        if (treasury_ == address(0)) revert InvalidParameter("treasury");
        if (penaltyRate_ == 0 || penaltyRate_ > type(uint32).max) revert InvalidParameter("penaltyRate");
        if (timeoutFineBps_ > _BPS) revert InvalidParameter("timeoutFineBps");
        if (signingWindow_ == 0 || signingWindow_ > type(uint32).max) revert InvalidParameter("signingWindow");
        if (revealWindow_ == 0 || revealWindow_ > type(uint32).max) revert InvalidParameter("revealWindow");
        if (mediationWindow_ == 0 || mediationWindow_ > type(uint32).max) revert InvalidParameter("mediationWindow");
        token = token_;
        treasury = treasury_;
        penaltyRate = penaltyRate_;
        allocatorFee = allocatorFee_;
        mediatorFee = mediatorFee_;
        timeoutFineBps = timeoutFineBps_;
        signingWindow = signingWindow_;
        revealWindow = revealWindow_;
        mediationWindow = mediationWindow_;
    }

    // ================================================================ escrow

    /// @inheritdoc ISurplusMarket
    function deposit(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        _balances[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ISurplusMarket
    function withdraw(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 free = _balances[msg.sender];
        if (free < amount) revert InsufficientBalance(msg.sender, amount, free);
        // unchecked: amount ≤ free was checked on the line above.
        unchecked {
            _balances[msg.sender] = free - amount;
        }
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ISurplusMarket
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    // ================================================================ signing

    /// @inheritdoc ISurplusMarket
    function open(Allocation calldata a, Signatures calldata sigs) external returns (bytes32 id) {
        id = _idOf(a);
        if (msg.sender != a.allocator) revert UnauthorizedCaller(id, msg.sender, a.allocator);
        Record memory rec = _records[id];
        if (rec.state != State.None) revert AllocationUnexpectedState(id, rec.state, State.None);
        Amounts memory m = _validate(id, a);
        uint256 r = a.suppliers.length;
        if (sigs.suppliers.length > r) revert LengthMismatch(id, r, sigs.suppliers.length);

        if (sigs.customer.length != 0) {
            _verifyAccept(id, a.customer, sigs.commitment, sigs.customer);
            _lock(a.customer, _customerLock(m, r));
            _commitments[id] = sigs.commitment;
            rec.customerSigned = true;
        }
        if (sigs.mediator.length != 0) {
            _verifyAccept(id, a.mediator, bytes32(0), sigs.mediator);
            rec.mediatorSigned = true;
        }
        uint256 supplierLock = m.deposit + allocatorFee;
        for (uint256 i; i < sigs.suppliers.length; ++i) {
            if (sigs.suppliers[i].length == 0) continue;
            address s = a.suppliers[i];
            _verifyAccept(id, s, bytes32(0), sigs.suppliers[i]);
            _lock(s, supplierLock);
            rec.suppliers |= uint16(1 << i);
        }
        rec.deadline = uint40(block.timestamp + signingWindow);
        rec.state = State.Signing;
        if (_allSigned(rec, r)) {
            // Recorded and Running in one step: `_run` stores the record and emits AllocationRunning.
            emit AllocationOpened(id, a.allocator, a.customer, rec.suppliers, true, true, rec.deadline);
            _run(id, a, rec, m, r);
        } else {
            _records[id] = rec;
            emit AllocationOpened(
                id, a.allocator, a.customer, rec.suppliers, rec.customerSigned, rec.mediatorSigned, rec.deadline
            );
        }
    }

    /// @inheritdoc ISurplusMarket
    function sign(Allocation calldata a, address party, bytes32 commitment, bytes calldata signature) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Signing);
        if (block.timestamp >= rec.deadline) revert DeadlinePassed(id, rec.deadline, block.timestamp);
        Amounts memory m = _amounts(a);
        uint256 r = a.suppliers.length;

        if (party == a.customer) {
            if (rec.customerSigned) revert AlreadySigned(id, party);
            _verifyAccept(id, party, commitment, signature);
            _lock(party, _customerLock(m, r));
            _commitments[id] = commitment;
            rec.customerSigned = true;
        } else {
            if (commitment != bytes32(0)) revert NonZeroCommitment(id, party);
            if (party == a.mediator) {
                if (rec.mediatorSigned) revert AlreadySigned(id, party);
                _verifyAccept(id, party, bytes32(0), signature);
                rec.mediatorSigned = true;
            } else {
                uint16 bit = uint16(1 << _supplierIndex(id, a, party));
                if (rec.suppliers & bit != 0) revert AlreadySigned(id, party);
                _verifyAccept(id, party, bytes32(0), signature);
                _lock(party, m.deposit + allocatorFee);
                rec.suppliers |= bit;
            }
        }
        emit AllocationSigned(id, party, commitment);
        if (_allSigned(rec, r)) _run(id, a, rec, m, r);
        else _records[id] = rec;
    }

    /// @inheritdoc ISurplusMarket
    function expireSigning(Allocation calldata a) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Signing);
        if (block.timestamp < rec.deadline) revert DeadlineNotReached(id, rec.deadline, block.timestamp);
        Amounts memory m = _amounts(a);
        uint256 r = a.suppliers.length;

        if (rec.customerSigned && rec.mediatorSigned && _popcount(rec.suppliers) >= a.minReplicas) {
            _run(id, a, rec, m, r);
            return;
        }
        // Too few signers: everyone who signed gets exactly what it locked back. Non-signers locked
        // nothing, so there is nothing to fine them from (a deviation from §3.5 (1)-(3), see README).
        uint256[] memory supplierPayouts = new uint256[](r);
        uint256 supplierLock = m.deposit + allocatorFee;
        for (uint256 i; i < r; ++i) {
            if (rec.suppliers & (1 << i) != 0) {
                supplierPayouts[i] = supplierLock;
                _credit(a.suppliers[i], supplierLock);
            }
        }
        uint256 customerPayout = rec.customerSigned ? _customerLock(m, r) : 0;
        _credit(a.customer, customerPayout);
        _closeRecord(id, rec);
        emit AllocationClosed(id, CloseReason.SigningFailed, supplierPayouts, customerPayout, 0, 0);
    }

    // ================================================================ running

    /// @inheritdoc ISurplusMarket
    function dispute(Allocation calldata a, uint16 suppliers) external {
        bytes32 id = _idOf(a);
        if (msg.sender != a.customer) revert UnauthorizedCaller(id, msg.sender, a.customer);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Running);
        uint256 revealDeadline = uint256(a.end) + revealWindow;
        if (block.timestamp >= revealDeadline) revert DeadlinePassed(id, revealDeadline, block.timestamp);
        if (suppliers == 0 || suppliers & ~rec.suppliers != 0) revert InvalidMask(id, suppliers, rec.suppliers);
        rec.disputed |= suppliers;
        _records[id] = rec;
        emit AllocationDisputed(id, suppliers);
    }

    /// @inheritdoc ISurplusMarket
    function settle(Allocation calldata a, bytes32 gammaC, Result[] calldata results) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Running);
        uint256 revealDeadline = uint256(a.end) + revealWindow;
        if (block.timestamp < a.end) revert DeadlineNotReached(id, a.end, block.timestamp);
        if (block.timestamp >= revealDeadline) revert DeadlinePassed(id, revealDeadline, block.timestamp);
        bytes32 commitment = _commitments[id];
        bytes32 revealedHash = keccak256(abi.encode(gammaC));
        if (revealedHash != commitment) revert CommitmentMismatch(id, commitment, revealedHash);
        uint256 r = a.suppliers.length;
        if (results.length != r) revert LengthMismatch(id, r, results.length);

        uint16 matched;
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.suppliers & bit == 0) continue;
            address s = a.suppliers[i];
            if (results[i].seal == sealOf(s, id, gammaC) && _resultSigned(id, s, results[i])) matched |= bit;
        }
        emit AllocationSettled(id, gammaC, matched);

        uint16 mediating = (rec.suppliers & ~matched) | rec.disputed;
        if (mediating == 0) {
            Amounts memory m = _amounts(a);
            _payAll(id, a, rec, m, CloseReason.Settled, m.deposit, mediatorFee);
        } else {
            rec.state = State.MediationRequested;
            rec.mediating = mediating;
            rec.deadline = uint40(block.timestamp + mediationWindow);
            _records[id] = rec;
            emit MediationRequested(id, mediating, rec.disputed, rec.deadline);
        }
    }

    /// @inheritdoc ISurplusMarket
    function expireReveal(Allocation calldata a) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Running);
        uint256 revealDeadline = uint256(a.end) + revealWindow;
        if (block.timestamp < revealDeadline) revert DeadlineNotReached(id, revealDeadline, block.timestamp);
        // The Customer withheld γ_c: its whole deposit is fined (a partial fine would let a Customer
        // that committed to garbage escape eq. 4 by going silent). Suppliers cannot be judged without
        // γ_c, so every running Supplier is paid; the Mediator was available and gets M.
        _payAll(id, a, rec, _amounts(a), CloseReason.RevealTimeout, 0, mediatorFee);
    }

    // ================================================================ mediation

    /// @inheritdoc ISurplusMarket
    function mediate(Allocation calldata a, bytes32 gammaM, uint16 lazy, Result[] calldata results) external {
        bytes32 id = _idOf(a);
        if (msg.sender != a.mediator) revert UnauthorizedCaller(id, msg.sender, a.mediator);
        Record memory rec = _records[id];
        _expectState(id, rec, State.MediationRequested);
        if (block.timestamp >= rec.deadline) revert DeadlinePassed(id, rec.deadline, block.timestamp);
        if (lazy & ~rec.mediating != 0) revert InvalidMask(id, lazy, rec.mediating);
        uint256 r = a.suppliers.length;
        if (results.length != r) revert LengthMismatch(id, r, results.length);
        Amounts memory m = _amounts(a);
        Verdict memory v = _judge(id, a, rec, m, gammaM, lazy, results);

        // The Customer is at fault iff its committed γ differs from the Mediator's (wrong or too few
        // test outputs), or it disputed a Supplier the Mediator found honest.
        v.customerAtFault = v.customerAtFault || keccak256(abi.encode(gammaM)) != _commitments[id];
        uint256 customerPayout;
        if (v.customerAtFault) v.fines += m.deposit;
        else customerPayout = m.deposit;
        _credit(a.customer, customerPayout);

        // The Mediator is paid M for availability and n·π_s for re-processing, from the fines (⑪).
        uint256 compensation = uint256(a.testCount) * m.inputPrice;
        if (compensation > v.fines) compensation = v.fines;
        uint256 mediatorPayout = mediatorFee + compensation;
        _credit(a.mediator, mediatorPayout);
        uint256 treasuryPayout = v.fines - compensation + v.unearned;
        _credit(treasury, treasuryPayout);

        _closeRecord(id, rec);
        emit AllocationMediated(id, gammaM, v.faulty, v.customerAtFault);
        emit AllocationClosed(
            id, CloseReason.Mediated, v.supplierPayouts, customerPayout, mediatorPayout, treasuryPayout
        );
    }

    /// @dev The outcome of mediation for the Suppliers (and whether the Customer disputed an honest one).
    struct Verdict {
        uint256[] supplierPayouts;
        uint16 faulty; // mask of Suppliers at fault
        bool customerAtFault;
        uint256 fines; // deposits fined, from which the Mediator is compensated
        uint256 unearned; // payments P of faulty Suppliers: the Customer pays regardless (§3.4.2)
    }

    /// @dev Judges each running Supplier and credits what it is owed.
    function _judge(
        bytes32 id,
        Allocation calldata a,
        Record memory rec,
        Amounts memory m,
        bytes32 gammaM,
        uint16 lazy,
        Result[] calldata results
    ) private returns (Verdict memory v) {
        uint256 r = a.suppliers.length;
        v.supplierPayouts = new uint256[](r);
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.suppliers & bit == 0) continue;
            uint256 payout = m.payment + m.deposit; // honest: paid and refunded
            if (rec.mediating & bit != 0) {
                // Lazy (wrong or missing live outputs at test positions): the whole deposit.
                (bool atFault, uint256 fine) = lazy & bit != 0
                    ? (true, m.deposit)
                    : _resultFault(id, a.suppliers[i], results[i], gammaM, m.deposit);
                if (atFault) {
                    v.faulty |= bit;
                    v.fines += fine;
                    v.unearned += m.payment;
                    payout = m.deposit - fine;
                } else if (rec.disputed & bit != 0) {
                    v.customerAtFault = true; // the Customer disputed an honest Supplier
                }
            }
            v.supplierPayouts[i] = payout;
            _credit(a.suppliers[i], payout);
        }
    }

    /// @dev A Supplier in mediation is at fault when it never posted a signed result (the partial
    /// timeout fine) or sealed a γ other than the Mediator's (the whole deposit).
    function _resultFault(bytes32 id, address s, Result calldata result, bytes32 gammaM, uint256 deposit_)
        private
        view
        returns (bool atFault, uint256 fine)
    {
        if (!_resultSigned(id, s, result)) return (true, (deposit_ * timeoutFineBps) / _BPS);
        if (result.seal != sealOf(s, id, gammaM)) return (true, deposit_);
        return (false, 0);
    }

    /// @inheritdoc ISurplusMarket
    function expireMediation(Allocation calldata a) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.MediationRequested);
        if (block.timestamp < rec.deadline) revert DeadlineNotReached(id, rec.deadline, block.timestamp);
        Amounts memory m = _amounts(a);
        uint256 r = a.suppliers.length;

        // §4.1 fallback: fault cannot be determined, so the Customer and every Supplier in mediation
        // lose their deposits (and those Suppliers their payment); the Mediator gets nothing.
        uint256[] memory supplierPayouts = new uint256[](r);
        uint256 treasuryPayout = m.deposit + mediatorFee;
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.suppliers & bit == 0) continue;
            if (rec.mediating & bit != 0) {
                treasuryPayout += m.payment + m.deposit;
            } else {
                supplierPayouts[i] = m.payment + m.deposit;
                _credit(a.suppliers[i], supplierPayouts[i]);
            }
        }
        _credit(treasury, treasuryPayout);
        _closeRecord(id, rec);
        emit AllocationClosed(id, CloseReason.MediatorTimeout, supplierPayouts, 0, 0, treasuryPayout);
    }

    // ================================================================ views

    /// @inheritdoc ISurplusMarket
    function allocationId(Allocation calldata a) external view returns (bytes32) {
        return _idOf(a);
    }

    /// @notice seal(s, id, γ) = keccak256(abi.encode(s, id, γ)), as core's `seal()`.
    function sealOf(address supplier, bytes32 id, bytes32 gamma) public pure returns (bytes32) {
        return keccak256(abi.encode(supplier, id, gamma));
    }

    /// @notice The EIP-712 domain separator of this market.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ISurplusMarket
    function recordOf(bytes32 id)
        external
        view
        returns (
            State state,
            uint40 deadline,
            uint16 suppliers,
            bool customerSigned,
            bool mediatorSigned,
            uint16 disputed,
            uint16 mediating
        )
    {
        Record memory rec = _records[id];
        return (
            rec.state, rec.deadline, rec.suppliers, rec.customerSigned, rec.mediatorSigned, rec.disputed, rec.mediating
        );
    }

    /// @inheritdoc ISurplusMarket
    function commitmentOf(bytes32 id) external view returns (bytes32) {
        return _commitments[id];
    }

    /// @inheritdoc ISurplusMarket
    function escrowOf(Allocation calldata a) external view returns (uint256) {
        Record memory rec = _records[_idOf(a)];
        Amounts memory m = _amounts(a);
        uint256 signedSuppliers = _popcount(rec.suppliers);
        if (rec.state == State.Signing) {
            uint256 customer = rec.customerSigned ? _customerLock(m, a.suppliers.length) : 0;
            return customer + signedSuppliers * (m.deposit + allocatorFee);
        }
        if (rec.state == State.Running || rec.state == State.MediationRequested) {
            return signedSuppliers * (m.payment + m.deposit) + m.deposit + mediatorFee;
        }
        return 0;
    }

    /// @inheritdoc ISurplusMarket
    function amountsOf(Allocation calldata a) external view returns (uint256 payment, uint256 deposit_) {
        Amounts memory m = _amounts(a);
        return (m.payment, m.deposit);
    }

    // ================================================================ internals

    /// @dev Running with the signed Suppliers: the Customer gets back the payments of Suppliers that
    /// did not sign, and the Allocator is paid F by the Customer and by each running Supplier.
    function _run(bytes32 id, Allocation calldata a, Record memory rec, Amounts memory m, uint256 r) private {
        uint256 running = _popcount(rec.suppliers);
        // unchecked: running ≤ r (one bit per Supplier index < r).
        unchecked {
            if (running < r) _credit(a.customer, (r - running) * m.payment);
        }
        uint256 allocatorPaid = (running + 1) * allocatorFee;
        _credit(a.allocator, allocatorPaid);
        rec.state = State.Running;
        _records[id] = rec;
        emit AllocationRunning(id, rec.suppliers, allocatorPaid);
    }

    /// @dev Pays every running Supplier P + D, the Customer `customerPayout`, the Mediator
    /// `mediatorPayout`; what is left of the Customer's D + M goes to the treasury. Closes.
    function _payAll(
        bytes32 id,
        Allocation calldata a,
        Record memory rec,
        Amounts memory m,
        CloseReason reason,
        uint256 customerPayout,
        uint256 mediatorPayout
    ) private {
        uint256 r = a.suppliers.length;
        uint256[] memory supplierPayouts = new uint256[](r);
        uint256 supplierPayout = m.payment + m.deposit;
        for (uint256 i; i < r; ++i) {
            if (rec.suppliers & (1 << i) == 0) continue;
            supplierPayouts[i] = supplierPayout;
            _credit(a.suppliers[i], supplierPayout);
        }
        _credit(a.customer, customerPayout);
        _credit(a.mediator, mediatorPayout);
        uint256 treasuryPayout = m.deposit + mediatorFee - customerPayout - mediatorPayout;
        _credit(treasury, treasuryPayout);
        _closeRecord(id, rec);
        emit AllocationClosed(id, reason, supplierPayouts, customerPayout, mediatorPayout, treasuryPayout);
    }

    function _closeRecord(bytes32 id, Record memory rec) private {
        rec.state = State.Closed;
        _records[id] = rec;
        delete _commitments[id];
    }

    function _credit(address account, uint256 amount) private {
        if (amount != 0) _balances[account] += amount;
    }

    function _lock(address account, uint256 amount) private {
        uint256 free = _balances[account];
        if (free < amount) revert InsufficientBalance(account, amount, free);
        // unchecked: amount ≤ free was checked on the line above.
        unchecked {
            _balances[account] = free - amount;
        }
    }

    function _customerLock(Amounts memory m, uint256 r) private view returns (uint256) {
        return r * m.payment + m.deposit + mediatorFee + allocatorFee;
    }

    function _allSigned(Record memory rec, uint256 r) private pure returns (bool) {
        return rec.customerSigned && rec.mediatorSigned && rec.suppliers == (1 << r) - 1;
    }

    function _expectState(bytes32 id, Record memory rec, State expected) private pure {
        if (rec.state != expected) revert AllocationUnexpectedState(id, rec.state, expected);
    }

    function _supplierIndex(bytes32 id, Allocation calldata a, address party) private pure returns (uint256) {
        for (uint256 i; i < a.suppliers.length; ++i) {
            if (a.suppliers[i] == party) return i;
        }
        revert NotAParty(id, party);
    }

    function _verifyAccept(bytes32 id, address party, bytes32 commitment, bytes calldata signature) private view {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ACCEPT_TYPEHASH, id, commitment)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != party) revert InvalidSignature(id, party);
    }

    /// @dev Whether `result` carries `supplier`'s valid SupplierResult(id, seal) signature.
    function _resultSigned(bytes32 id, address supplier, Result calldata result) private view returns (bool) {
        if (result.signature.length == 0) return false;
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SUPPLIER_RESULT_TYPEHASH, id, result.seal)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, result.signature);
        return err == ECDSA.RecoverError.NoError && signer == supplier;
    }

    function _amounts(Allocation calldata a) private view returns (Amounts memory m) {
        m.inputPrice = uint256(a.miPerInput) * a.pricePerMi;
        m.payment = uint256(a.inputsPerSecond) * (a.end - a.start) * m.inputPrice;
        m.deposit = penaltyRate * m.inputPrice;
    }

    /// @dev Checks the terms of a new allocation and returns its amounts.
    function _validate(bytes32 id, Allocation calldata a) private view returns (Amounts memory) {
        uint256 r = a.suppliers.length;
        if (r == 0 || r > _MAX_SUPPLIERS) revert InvalidSupplierCount(r);
        if (a.supplierOffers.length != r) revert LengthMismatch(id, r, a.supplierOffers.length);
        if (a.minReplicas == 0 || a.minReplicas > r) revert InvalidMinReplicas(a.minReplicas, r);
        if (a.start >= a.end || a.end <= block.timestamp) revert InvalidWindow(a.start, a.end, block.timestamp);
        address customer = a.customer;
        address mediator = a.mediator;
        if (customer == mediator) revert DuplicateParty(customer);
        for (uint256 i; i < r; ++i) {
            address s = a.suppliers[i];
            if (s == customer || s == mediator) revert DuplicateParty(s);
            for (uint256 j = i + 1; j < r; ++j) {
                if (a.suppliers[j] == s) revert DuplicateParty(s);
            }
        }
        // Eq. 6 needs n·ρ ≥ λΔ (n = ceil(λΔ/ρ) is the Allocator's choice); eq. 4 needs n ≤ ρ; and
        // there cannot be more test inputs than inputs.
        uint256 inputs = uint256(a.inputsPerSecond) * (a.end - a.start);
        uint256 n = a.testCount;
        if (n == 0 || n > inputs || n > penaltyRate || n * penaltyRate < inputs) {
            revert InvalidTestCount(n, inputs, penaltyRate);
        }
        return _amounts(a);
    }

    function _idOf(Allocation calldata a) private view returns (bytes32) {
        bytes memory head = abi.encode(
            ALLOCATION_TYPEHASH,
            a.allocator,
            a.customer,
            keccak256(abi.encodePacked(a.suppliers)),
            a.mediator,
            a.customerOffer,
            keccak256(abi.encodePacked(a.supplierOffers)),
            a.serviceHash
        );
        bytes memory tail = abi.encode(
            a.start, a.end, a.pricePerMi, a.miPerInput, a.inputsPerSecond, a.testCount, a.minReplicas, a.nonce
        );
        return _hashTypedDataV4(keccak256(bytes.concat(head, tail)));
    }

    function _popcount(uint16 mask) private pure returns (uint256 count) {
        // unchecked: at most 16 iterations, count ≤ 16.
        unchecked {
            for (; mask != 0; ++count) {
                mask &= mask - 1;
            }
        }
    }
}
