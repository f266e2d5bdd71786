// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ISurplusMarket} from "./ISurplusMarket.sol";

/// @title SurplusMarket
/// @notice See {ISurplusMarket}. Parameters are immutable: a city operator that wants other
/// parameters deploys another market (allocations name their market through the EIP-712 domain).
contract SurplusMarket is ISurplusMarket {
    using SafeERC20 for IERC20;

    /// @dev The EIP-712 type strings: byte for byte core's `encodeType()` (a test compares them).
    bytes32 public constant ALLOCATION_TYPEHASH = keccak256(
        "Allocation(address allocator,address customer,address[] suppliers,address mediator,bytes32 customerOffer,bytes32[] supplierOffers,bytes32 serviceHash,uint64 start,uint64 end,uint256 pricePerMi,uint64 miPerInput,uint32 inputsPerSecond,uint32 testCount,uint8 minReplicas,uint64 nonce)"
    );
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("Surplus");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 public constant ACCEPT_TYPEHASH = keccak256("Accept(bytes32 allocationId,bytes32 commitment)");
    bytes32 public constant SUPPLIER_RESULT_TYPEHASH = keccak256("SupplierResult(bytes32 allocationId,bytes32 seal)");

    uint256 private constant _MAX_SUPPLIERS = 16;
    uint256 private constant _BPS = 10_000;
    /// @dev Transient slot of `deposit`'s re-entrancy lock: keccak256("surplus.market.deposit.lock").
    uint256 private constant _DEPOSIT_LOCK = 0x74ddd25bdd4af574445d44883b2d78fef1810de2ab217318434383cc4ad8f9c3;

    /// @notice The payment token, fixed at construction.
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
    /// @notice Bounds of `end − start` (seconds).
    uint256 public immutable minDuration;
    uint256 public immutable maxDuration;
    /// @notice `open` needs `start ≤ now + maxStartDelay`: deposits are not locked for an allocation
    /// far in the future.
    uint256 public immutable maxStartDelay;
    /// @dev The latest `end`: 2^32 − 1 − revealWindow − mediationWindow.
    uint256 private immutable _maxEnd;

    /// @dev The EIP-712 domain separator, cached for the chain the market was deployed on.
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    /// @dev One storage slot per allocation (8 + 32 + 16 + 8 + 16 + 16 + 160 bits).
    struct Record {
        State state; // 5 values
        uint32 deadline; // unix seconds (< 2^32, year 2106; `open` checks): signing, then mediation deadline
        uint16 suppliers; // bit i = suppliers[i] signed (Signing) / runs (later); ≤ 16 Suppliers
        uint8 signers; // bit 0: the Customer signed, bit 1: the Mediator signed
        uint16 disputed; // Suppliers the Customer disputed, ⊆ suppliers
        uint16 mediating; // Suppliers sent to mediation, ⊆ suppliers
        // Signing/Running: the first 20 bytes of Γ; MediationRequested: of γ_c. 160 bits leave the
        // Customer a 2^80 collision search between two checklists of its own, which gains it nothing
        // (README "One slot per allocation").
        bytes20 digest;
    }

    uint8 private constant _CUSTOMER_SIGNED = 1;
    uint8 private constant _MEDIATOR_SIGNED = 2;

    /// @dev Per-allocation amounts, derived from the terms.
    struct Amounts {
        uint256 payment; // P = λΔ·π_s
        uint256 deposit; // D = ρ·π_s
        uint256 inputPrice; // π_s
        uint256 bondPerSupplier; // P + D: the Mediator's bond per running Supplier
    }

    mapping(bytes32 id => Record) private _records;
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
        uint256 mediationWindow_,
        uint256 minDuration_,
        uint256 maxDuration_,
        uint256 maxStartDelay_
    ) {
        if (address(token_) == address(0)) revert InvalidParameter("token");
        if (treasury_ == address(0)) revert InvalidParameter("treasury");
        if (penaltyRate_ == 0 || penaltyRate_ > type(uint32).max) revert InvalidParameter("penaltyRate");
        if (timeoutFineBps_ > _BPS) revert InvalidParameter("timeoutFineBps");
        if (signingWindow_ == 0 || signingWindow_ > type(uint32).max) revert InvalidParameter("signingWindow");
        if (revealWindow_ == 0 || revealWindow_ > type(uint32).max) revert InvalidParameter("revealWindow");
        if (mediationWindow_ == 0 || mediationWindow_ > type(uint32).max) revert InvalidParameter("mediationWindow");
        // An allocation that finishes signing late must still have time to settle: it becomes
        // Running at most `signingWindow` after `open`, when `end + revealWindow` is still ahead.
        if (signingWindow_ > revealWindow_) revert InvalidParameter("signingWindow");
        if (minDuration_ == 0 || minDuration_ > maxDuration_) revert InvalidParameter("minDuration");
        // maxDuration and maxStartDelay need no upper bound: `_maxEnd` bounds every end, and `open`
        // compares start − now (no overflow) with maxStartDelay.
        token = token_;
        treasury = treasury_;
        penaltyRate = penaltyRate_;
        allocatorFee = allocatorFee_;
        mediatorFee = mediatorFee_;
        timeoutFineBps = timeoutFineBps_;
        signingWindow = signingWindow_;
        revealWindow = revealWindow_;
        mediationWindow = mediationWindow_;
        minDuration = minDuration_;
        maxDuration = maxDuration_;
        maxStartDelay = maxStartDelay_;
        _maxEnd = type(uint32).max - revealWindow_ - mediationWindow_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ================================================================ escrow

    /// @inheritdoc ISurplusMarket
    function deposit(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        // Credit what arrived, not what was asked: a fee-on-transfer token cannot make the market owe
        // more than it holds. Locked (transient storage, EIP-1153) for the transfer: a token hook
        // re-entering `deposit` would otherwise be counted twice, in its own and the outer delta.
        bool locked;
        assembly ("memory-safe") {
            locked := tload(_DEPOSIT_LOCK)
        }
        if (locked) revert ReentrantDeposit();
        assembly ("memory-safe") {
            tstore(_DEPOSIT_LOCK, 1)
        }
        uint256 before = _held();
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _held() - before;
        assembly ("memory-safe") {
            tstore(_DEPOSIT_LOCK, 0)
        }
        _balances[msg.sender] += received;
        emit Deposited(msg.sender, received);
    }

    /// @dev token.balanceOf(this), one call site for both reads of `deposit`.
    function _held() private view returns (uint256) {
        return token.balanceOf(address(this));
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
        rec.state = State.Signing;
        // < 2^32: `_validate` bounds end + revealWindow + mediationWindow, and signingWindow ≤ revealWindow.
        rec.deadline = uint32(block.timestamp + signingWindow);
        emit AllocationOpened(id, a.allocator, a.customer, rec.deadline);
        _addSignatures(id, a, rec, m, sigs);
    }

    /// @inheritdoc ISurplusMarket
    function sign(Allocation calldata a, Signatures calldata sigs) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Signing);
        if (block.timestamp >= rec.deadline) revert DeadlinePassed(id, rec.deadline, block.timestamp);
        _addSignatures(id, a, rec, _amounts(a), sigs);
    }

    /// @dev Verifies the new Accept signatures in `sigs`, locks each signer's deposit, and stores the
    /// record: Running (Allocator paid) when everyone has signed, Signing otherwise. A party already
    /// recorded is skipped (a front-run `sign` cannot make a batch revert), and so is a signer whose
    /// free balance is short (it cannot make the Allocator's `open` revert by withdrawing).
    function _addSignatures(
        bytes32 id,
        Allocation calldata a,
        Record memory rec,
        Amounts memory m,
        Signatures calldata sigs
    ) private {
        uint256 r = a.suppliers.length;
        if (sigs.suppliers.length > r) revert LengthMismatch(id, r, sigs.suppliers.length);
        if (sigs.customer.length != 0 && !_signed(rec, _CUSTOMER_SIGNED)) {
            _verifyAccept(id, a.customer, sigs.commitment, sigs.customer);
            if (_tryLock(a.customer, _customerLock(m, r))) {
                rec.digest = bytes20(sigs.commitment);
                rec.signers |= _CUSTOMER_SIGNED;
            }
        }
        if (sigs.mediator.length != 0 && !_signed(rec, _MEDIATOR_SIGNED)) {
            _verifyAccept(id, a.mediator, bytes32(0), sigs.mediator);
            if (_tryLock(a.mediator, r * m.bondPerSupplier)) rec.signers |= _MEDIATOR_SIGNED;
        }
        uint256 supplierLock = m.deposit + allocatorFee;
        for (uint256 i; i < sigs.suppliers.length; ++i) {
            uint16 bit = uint16(1 << i);
            if (sigs.suppliers[i].length == 0 || rec.suppliers & bit != 0) continue;
            address s = a.suppliers[i];
            _verifyAccept(id, s, bytes32(0), sigs.suppliers[i]);
            if (_tryLock(s, supplierLock)) rec.suppliers |= bit;
        }
        emit AllocationSigned(
            id, rec.suppliers, rec.signers & _CUSTOMER_SIGNED != 0, rec.signers & _MEDIATOR_SIGNED != 0
        );
        if (_allSigned(rec, r)) _run(id, a, rec, m, r);
        else _records[id] = rec;
    }

    /// @inheritdoc ISurplusMarket
    function expire(Allocation calldata a) external {
        bytes32 id = _idOf(a);
        Record memory rec = _records[id];
        State state = rec.state;
        if (state == State.None || state == State.Closed) revert NothingToExpire(id, state);
        uint256 deadline = state == State.Running ? uint256(a.end) + revealWindow : rec.deadline;
        if (block.timestamp < deadline) revert DeadlineNotReached(id, deadline, block.timestamp);

        Amounts memory m = _amounts(a);
        if (state == State.Signing) {
            _expireSigning(id, a, rec, m);
        } else if (state == State.Running) {
            // The Customer did not settle: it withheld its checklist and γ_c. Its whole deposit is
            // fined (a partial fine would let a Customer that committed to garbage escape eq. 4 by
            // going silent). Suppliers cannot be judged without γ_c, so every running Supplier is
            // paid; the Mediator was available: M and its bond.
            _finish(id, a, rec, m, CloseReason.RevealTimeout, 0, 0, 0, mediatorFee + _bond(m, rec));
        } else {
            // The Mediator failed: no fine without fault. Every running Supplier gets P + D, the
            // P of those in mediation out of the Mediator's bond (the protocol cannot tell the honest
            // from the lazy without the Mediator); the Customer gets back D, M and the P it is not
            // charged for them. The Mediator loses M and its whole bond, the rest of which goes to
            // the treasury, so no coalition with a silent Mediator gains (README).
            uint256 customerPayout = m.deposit + mediatorFee + _popcount(rec.mediating) * m.payment;
            _finish(id, a, rec, m, CloseReason.MediatorTimeout, 0, 0, customerPayout, 0);
        }
    }

    /// @dev Signing deadline passed: Running with the signers if the Customer, the Mediator and at
    /// least `minReplicas` Suppliers signed (§3.5 (4)); otherwise Closed, every signer refunded.
    function _expireSigning(bytes32 id, Allocation calldata a, Record memory rec, Amounts memory m) private {
        uint256 r = a.suppliers.length;
        if (_signed(rec, _CUSTOMER_SIGNED | _MEDIATOR_SIGNED) && _popcount(rec.suppliers) >= a.minReplicas) {
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
        uint256 customerPayout = rec.signers & _CUSTOMER_SIGNED != 0 ? _customerLock(m, r) : 0;
        uint256 mediatorPayout = rec.signers & _MEDIATOR_SIGNED != 0 ? r * m.bondPerSupplier : 0;
        _credit(a.customer, customerPayout);
        _credit(a.mediator, mediatorPayout);
        _closeRecord(id, rec);
        emit AllocationClosed(id, CloseReason.SigningFailed, supplierPayouts, customerPayout, mediatorPayout, 0);
    }

    // ================================================================ running

    /// @inheritdoc ISurplusMarket
    function settle(
        Allocation calldata a,
        bytes32 salt,
        bytes32 seqsHash,
        bytes32 gammaC,
        Result[] calldata results,
        uint16 disputed
    ) external {
        bytes32 id = _idOf(a);
        // Only the Customer: its dispute travels with its reveal, so nobody can close the dispute
        // window before it, or push honest Suppliers into mediation with empty results.
        if (msg.sender != a.customer) revert UnauthorizedCaller(id, msg.sender, a.customer);
        Record memory rec = _records[id];
        _expectState(id, rec, State.Running);
        uint256 revealDeadline = uint256(a.end) + revealWindow;
        if (block.timestamp < a.end) revert DeadlineNotReached(id, a.end, block.timestamp);
        if (block.timestamp >= revealDeadline) revert DeadlinePassed(id, revealDeadline, block.timestamp);
        bytes32 opened = keccak256(abi.encode(id, salt, seqsHash));
        if (bytes20(opened) != rec.digest) revert CommitmentMismatch(id, bytes32(rec.digest), opened);
        if (disputed & ~rec.suppliers != 0) revert InvalidMask(id, disputed, rec.suppliers);
        uint256 r = a.suppliers.length;
        if (results.length != r) revert LengthMismatch(id, r, results.length);

        uint16 matched = 0;
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.suppliers & bit == 0) continue;
            address s = a.suppliers[i];
            if (results[i].seal == _sealOf(s, id, gammaC) && _resultSigned(id, s, results[i])) matched |= bit;
        }
        emit AllocationSettled(id, gammaC, matched);

        uint16 mediating = (rec.suppliers & ~matched) | disputed;
        if (mediating == 0) {
            Amounts memory m = _amounts(a);
            _finish(id, a, rec, m, CloseReason.Settled, 0, 0, m.deposit, mediatorFee + _bond(m, rec));
        } else {
            rec.state = State.MediationRequested;
            rec.mediating = mediating;
            rec.disputed = disputed;
            // From here on the slot keeps γ_c for the Mediator's verdict; Γ was opened above.
            rec.digest = bytes20(gammaC);
            rec.deadline = uint32(block.timestamp + mediationWindow);
            _records[id] = rec;
            emit MediationRequested(id, mediating, disputed, rec.deadline);
        }
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

        // A Supplier in mediation is at fault when the Mediator found its live outputs wrong at test
        // positions (`lazy`) or it sealed a γ other than the Mediator's: it loses its whole deposit.
        // One that never posted a signed result is fined the timeout share. The Customer is at fault
        // when its committed γ differs from the Mediator's (wrong or too few test outputs), or when it
        // disputed a Supplier the Mediator found honest.
        uint16 wrong = lazy;
        uint16 silent = 0;
        bool customerAtFault = bytes20(gammaM) != rec.digest;
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.mediating & bit == 0 || lazy & bit != 0) continue;
            address s = a.suppliers[i];
            if (!_resultSigned(id, s, results[i])) silent |= bit;
            else if (results[i].seal != _sealOf(s, id, gammaM)) wrong |= bit;
            else if (rec.disputed & bit != 0) customerAtFault = true;
        }
        Amounts memory m = _amounts(a);
        uint256 fines = _popcount(wrong) * m.deposit + _popcount(silent) * _timeoutFine(m.deposit);
        if (customerAtFault) fines += m.deposit;
        // The Mediator is paid M for availability and n·π_s for re-processing, from the fines (⑪).
        uint256 compensation = uint256(a.testCount) * m.inputPrice;
        if (compensation > fines) compensation = fines;
        emit AllocationMediated(id, gammaM, wrong | silent, customerAtFault);
        _finish(
            id,
            a,
            rec,
            m,
            CloseReason.Mediated,
            wrong,
            silent,
            customerAtFault ? 0 : m.deposit,
            mediatorFee + compensation + _bond(m, rec)
        );
    }

    // ================================================================ views

    /// @inheritdoc ISurplusMarket
    function allocationId(Allocation calldata a) external view returns (bytes32) {
        return _idOf(a);
    }

    /// @dev seal(s, id, γ) = keccak256(abi.encode(s, id, γ)), as core's `seal()` (core-agreement test).
    function _sealOf(address supplier, bytes32 id, bytes32 gamma) private pure returns (bytes32) {
        return keccak256(abi.encode(supplier, id, gamma));
    }

    /// @notice The EIP-712 domain separator of this market: name "Surplus", version "1", this
    /// chain, this contract (core's `domainOf`).
    function domainSeparator() public view returns (bytes32) {
        // After a chain split the cached separator belongs to the other chain: rebuild it.
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
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
            rec.state,
            rec.deadline,
            rec.suppliers,
            rec.signers & _CUSTOMER_SIGNED != 0,
            rec.signers & _MEDIATOR_SIGNED != 0,
            rec.disputed,
            rec.mediating
        );
    }

    // ================================================================ internals

    /// @dev Running with the signed Suppliers: the Customer gets back the payments of Suppliers that
    /// did not sign, and the Allocator is paid F by the Customer and by each running Supplier.
    function _run(bytes32 id, Allocation calldata a, Record memory rec, Amounts memory m, uint256 r) private {
        uint256 running = _popcount(rec.suppliers);
        // unchecked: running ≤ r (one bit per Supplier index < r).
        unchecked {
            if (running < r) {
                _credit(a.customer, (r - running) * m.payment);
                // The Mediator's bond covers the running Suppliers only.
                _credit(a.mediator, (r - running) * m.bondPerSupplier);
            }
        }
        uint256 allocatorPaid = (running + 1) * allocatorFee;
        _credit(a.allocator, allocatorPaid);
        rec.state = State.Running;
        _records[id] = rec;
        emit AllocationRunning(id, rec.suppliers, allocatorPaid);
    }

    /// @dev Pays out a Running or MediationRequested allocation and closes it. Each running Supplier
    /// gets P + D, except those in `wrong` (nothing) and in `silent` (D minus the timeout fine); the
    /// Customer gets `customerPayout`, the Mediator `mediatorPayout` (its bond included), and the
    /// treasury whatever else the allocation holds, so every wei goes to a named party by construction.
    function _finish(
        bytes32 id,
        Allocation calldata a,
        Record memory rec,
        Amounts memory m,
        CloseReason reason,
        uint16 wrong,
        uint16 silent,
        uint256 customerPayout,
        uint256 mediatorPayout
    ) private {
        uint256 r = a.suppliers.length;
        uint256[] memory supplierPayouts = new uint256[](r);
        // Held for the allocation since it runs: P + D per running Supplier, the Customer's D + M,
        // and the Mediator's bond, (P + D) per running Supplier.
        uint256 treasuryPayout = 2 * _bond(m, rec) + m.deposit + mediatorFee;
        for (uint256 i; i < r; ++i) {
            uint16 bit = uint16(1 << i);
            if (rec.suppliers & bit == 0) continue;
            uint256 payout =
                wrong & bit != 0 ? 0 : silent & bit != 0 ? m.deposit - _timeoutFine(m.deposit) : m.payment + m.deposit;
            supplierPayouts[i] = payout;
            _credit(a.suppliers[i], payout);
            treasuryPayout -= payout;
        }
        _credit(a.customer, customerPayout);
        _credit(a.mediator, mediatorPayout);
        // Checked: reverts rather than pay out more than the allocation holds.
        treasuryPayout -= customerPayout + mediatorPayout;
        _credit(treasury, treasuryPayout);
        _closeRecord(id, rec);
        emit AllocationClosed(id, reason, supplierPayouts, customerPayout, mediatorPayout, treasuryPayout);
    }

    /// @dev ⌊D · bps / 10^4⌋ without forming D · bps, which may exceed 2^256 when D is large:
    /// with D = q·10^4 + r it is q·bps + ⌊r·bps / 10^4⌋ (bps ≤ 10^4, so neither term overflows).
    function _timeoutFine(uint256 deposit_) private view returns (uint256) {
        uint256 bps = timeoutFineBps;
        // The division first is the point (exact, see above; test "D · timeoutFineBps beyond 2^256").
        // slither-disable-next-line divide-before-multiply
        return (deposit_ / _BPS) * bps + ((deposit_ % _BPS) * bps) / _BPS;
    }

    /// @dev The Mediator's bond while the allocation runs: (P + D) per running Supplier.
    function _bond(Amounts memory m, Record memory rec) private pure returns (uint256) {
        return _popcount(rec.suppliers) * m.bondPerSupplier;
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
    }

    /// @dev The EIP-712 digest of a struct hash under this market's domain.
    function _hashTypedData(bytes32 structHash) private view returns (bytes32 digest) {
        bytes32 separator = domainSeparator();
        // keccak256("\x19\x01" ‖ domainSeparator ‖ structHash), in scratch memory.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    function _closeRecord(bytes32 id, Record memory rec) private {
        rec.state = State.Closed;
        _records[id] = rec;
    }

    function _credit(address account, uint256 amount) private {
        if (amount != 0) _balances[account] += amount;
    }

    /// @dev Locks `amount` of `account`'s free balance; false (nothing locked) when it is short.
    function _tryLock(address account, uint256 amount) private returns (bool) {
        uint256 free = _balances[account];
        if (free < amount) return false;
        // unchecked: amount ≤ free was checked on the line above.
        unchecked {
            _balances[account] = free - amount;
        }
        return true;
    }

    function _customerLock(Amounts memory m, uint256 r) private view returns (uint256) {
        return r * m.payment + m.deposit + mediatorFee + allocatorFee;
    }

    /// @dev Whether every party in `flags` (bits of `signers`) has signed.
    function _signed(Record memory rec, uint8 flags) private pure returns (bool) {
        // `signers` has no bits above the two flags, so ≥ on the masked value means all are set.
        return rec.signers & flags >= flags;
    }

    function _allSigned(Record memory rec, uint256 r) private pure returns (bool) {
        // `suppliers` only has bits below r, so ≥ means every one of them is set.
        return _signed(rec, _CUSTOMER_SIGNED | _MEDIATOR_SIGNED) && rec.suppliers >= (1 << r) - 1;
    }

    function _expectState(bytes32 id, Record memory rec, State expected) private pure {
        if (rec.state != expected) revert AllocationUnexpectedState(id, rec.state, expected);
    }

    function _verifyAccept(bytes32 id, address party, bytes32 commitment, bytes calldata signature) private view {
        bytes32 digest = _hashTypedData(keccak256(abi.encode(ACCEPT_TYPEHASH, id, commitment)));
        (address signer, ECDSA.RecoverError err, bytes32 errArg) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || errArg != 0 || signer != party) revert InvalidSignature(id, party);
    }

    /// @dev Whether `result` carries `supplier`'s valid SupplierResult(id, seal) signature.
    function _resultSigned(bytes32 id, address supplier, Result calldata result) private view returns (bool) {
        if (result.signature.length == 0) return false;
        bytes32 digest = _hashTypedData(keccak256(abi.encode(SUPPLIER_RESULT_TYPEHASH, id, result.seal)));
        (address signer, ECDSA.RecoverError err, bytes32 errArg) = ECDSA.tryRecoverCalldata(digest, result.signature);
        return err == ECDSA.RecoverError.NoError && errArg == 0 && signer == supplier;
    }

    function _amounts(Allocation calldata a) private view returns (Amounts memory m) {
        m.inputPrice = uint256(a.miPerInput) * a.pricePerMi;
        m.payment = uint256(a.inputsPerSecond) * (a.end - a.start) * m.inputPrice;
        m.deposit = penaltyRate * m.inputPrice;
        m.bondPerSupplier = m.payment + m.deposit;
    }

    /// @dev Checks the terms of a new allocation and returns its amounts.
    function _validate(bytes32 id, Allocation calldata a) private view returns (Amounts memory) {
        uint256 r = a.suppliers.length;
        if (r == 0 || r > _MAX_SUPPLIERS) revert InvalidSupplierCount(r);
        if (a.supplierOffers.length != r) revert LengthMismatch(id, r, a.supplierOffers.length);
        if (a.minReplicas == 0 || a.minReplicas > r) revert InvalidMinReplicas(a.minReplicas, r);
        // Read through the ABI decoder so that a non-canonical encoding reverts (see `_idOf`).
        if (a.nonce > type(uint64).max || a.allocator == address(0)) revert InvalidParameter("terms");
        // An Accept can open its allocation only before it starts (Accepts expire at `start`), and
        // not far ahead of it; the duration is bounded, so deposits are locked for a bounded time.
        // `_maxEnd`: every deadline derived from `end` fits the record's uint32.
        uint256 start = a.start;
        uint256 end = a.end;
        if (
            start >= end || start <= block.timestamp || start - block.timestamp > maxStartDelay
                || end - start < minDuration || end - start > maxDuration || end > _maxEnd
        ) revert InvalidWindow(a.start, a.end, block.timestamp);
        address customer = a.customer;
        address mediator = a.mediator;
        address treasury_ = treasury;
        // The treasury collects fines: as a party it could provoke the fines it collects.
        bool treasuryIsParty = customer == treasury_ || mediator == treasury_ || a.allocator == treasury_;
        if (customer == mediator) revert DuplicateParty(customer);
        for (uint256 i; i < r; ++i) {
            address s = a.suppliers[i];
            treasuryIsParty = treasuryIsParty || s == treasury_;
            if (s == customer || s == mediator) revert DuplicateParty(s);
            for (uint256 j = i + 1; j < r; ++j) {
                if (a.suppliers[j] == s) revert DuplicateParty(s);
            }
        }
        if (treasuryIsParty) revert TreasuryIsParty(treasury_);
        // Eq. 6 needs n·ρ ≥ λΔ (n = ceil(λΔ/ρ) is the Allocator's choice); eq. 4 needs n ≤ ρ; and
        // there cannot be more test inputs than inputs.
        uint256 inputs = uint256(a.inputsPerSecond) * (a.end - a.start);
        uint256 n = a.testCount;
        if (n == 0 || n > inputs || n > penaltyRate || n * penaltyRate < inputs) {
            revert InvalidTestCount(n, inputs, penaltyRate);
        }
        Amounts memory m = _amounts(a);
        // A zero price would have Suppliers pay F for nothing.
        if (m.inputPrice == 0) revert ZeroPrice();
        return m;
    }

    /// @dev The EIP-712 digest of the terms. The struct hash is taken over the raw calldata words of
    /// the static fields: a non-canonical encoding (dirty high bits) only yields a digest nobody
    /// signed, and `_validate` reads every field through the ABI decoder, which rejects it.
    function _idOf(Allocation calldata a) private view returns (bytes32) {
        address[] calldata suppliers = a.suppliers;
        bytes32[] calldata offers = a.supplierOffers;
        bytes32 typeHash = ALLOCATION_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // keccak256 of each array's 32-byte words, as EIP-712 encodes arrays.
            calldatacopy(ptr, suppliers.offset, shl(5, suppliers.length))
            let suppliersHash := keccak256(ptr, shl(5, suppliers.length))
            calldatacopy(ptr, offers.offset, shl(5, offers.length))
            let offersHash := keccak256(ptr, shl(5, offers.length))
            // Head words of `Allocation`: 0 allocator, 1 customer, 2 suppliers (offset), 3 mediator,
            // 4 customerOffer, 5 supplierOffers (offset), 6 serviceHash, 7..14 start … nonce.
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), a, 0x40)
            mstore(add(ptr, 0x60), suppliersHash)
            calldatacopy(add(ptr, 0x80), add(a, 0x60), 0x40)
            mstore(add(ptr, 0xc0), offersHash)
            calldatacopy(add(ptr, 0xe0), add(a, 0xc0), 0x120)
            structHash := keccak256(ptr, 0x200)
        }
        return _hashTypedData(structHash);
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
