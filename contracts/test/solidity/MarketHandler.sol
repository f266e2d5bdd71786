// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ISurplusMarket} from "../../contracts/ISurplusMarket.sol";
import {SurplusMarket} from "../../contracts/SurplusMarket.sol";
import {TestToken} from "../../contracts/TestToken.sol";
import {FeeOnTransferToken} from "../../contracts/test/FeeOnTransferToken.sol";
import {VM} from "./Vm.sol";

/// @dev Drives the market with arbitrary sequences of calls from its parties and from an outsider,
/// and checks after each call that money only moved between the allocation it touched and the
/// parties named in it (conservation per allocation, to the wei). Counts every violation in
/// `violations`; the invariant tests assert it stays zero.
///
/// Adversaries (issue 14): each allocation has lazy Suppliers (skipped a test input: their live
/// output at a test position is wrong, but they may compute a correct seal late); the Customer
/// sometimes disputes at random, reveals a wrong γ or omits results; Suppliers and the outsider try
/// to settle (first, or racing the Customer); the Mediator may stay silent (expire); a second market
/// runs on a fee-on-transfer token. Two counters hold the issue's money invariants:
/// `honestShortfalls` (an honest running Supplier closed with less than P + D back, i.e. gained less
/// than P − F) and `lazyPaid` (a lazy Supplier the Customer disputed was paid P out of the
/// Customer's escrow; with a silent Mediator its P comes from the Mediator's bond instead, and the
/// Customer gets its P back, which is checked too).
contract MarketHandler {
    uint256 internal constant ALLOCATOR_KEY = 0xA11;
    uint256 internal constant CUSTOMER_KEY = 0xC05;
    uint256 internal constant MEDIATOR_KEY = 0x3ED;
    uint256 internal constant FUNDS = 1e30;

    SurplusMarket public immutable market;
    TestToken public immutable token;
    SurplusMarket public immutable feeMarket;
    FeeOnTransferToken public immutable feeToken;
    address public immutable treasury = address(0x7EA5);
    address public immutable outsider = address(0x0B5E);
    address public immutable allocator;
    address public immutable customer;
    address public immutable mediator;
    address[3] public suppliers;
    uint256[3] internal supplierKeys = [uint256(0x5A1), 0x5A2, 0x5A3];

    struct Deal {
        ISurplusMarket.Allocation a;
        bytes32 id;
        bytes32 gammaC; // the true γ: what honest parties compute
        uint16 lazy; // Suppliers that skipped a test input
        uint16 disputed; // the Customer's dispute mask at its settle
    }

    Deal[] internal _deals;
    uint256 public violations;
    uint256 public honestShortfalls;
    uint256 public lazyPaid;
    uint256 public closedRunning; // allocations that closed after running (the two invariants' domain)
    uint256 public calls;
    mapping(bytes32 id => uint256) public closes;

    constructor() {
        token = new TestToken();
        market = new SurplusMarket(token, treasury, 1_000, 1e15, 2e15, 2_500, 600, 3_600, 3_600, 1, 30 days, 7 days);
        feeToken = new FeeOnTransferToken();
        feeMarket = new SurplusMarket(
            IERC20(address(feeToken)), treasury, 1_000, 1e15, 2e15, 2_500, 600, 3_600, 3_600, 1, 30 days, 7 days
        );
        allocator = VM.addr(ALLOCATOR_KEY);
        customer = VM.addr(CUSTOMER_KEY);
        mediator = VM.addr(MEDIATOR_KEY);
        for (uint256 i; i < 3; ++i) suppliers[i] = VM.addr(supplierKeys[i]);
        address[7] memory all = [allocator, customer, mediator, suppliers[0], suppliers[1], suppliers[2], outsider];
        for (uint256 i; i < all.length; ++i) {
            token.mint(all[i], FUNDS);
            VM.prank(all[i]);
            token.approve(address(market), type(uint256).max);
            if (all[i] != outsider) {
                VM.prank(all[i]);
                market.deposit(FUNDS / 2);
            }
            feeToken.mint(all[i], FUNDS);
            VM.prank(all[i]);
            feeToken.approve(address(feeMarket), type(uint256).max);
        }
    }

    // ------------------------------------------------------------ views for the invariants

    function dealCount() external view returns (uint256) {
        return _deals.length;
    }

    function stateOf(uint256 k) external view returns (ISurplusMarket.State state) {
        (state,,,,,,) = market.recordOf(_deals[k].id);
    }

    /// @dev Free balances of every account that can hold one.
    function owed() public view returns (uint256 sum) {
        sum = market.balanceOf(treasury) + market.balanceOf(outsider) + market.balanceOf(allocator)
            + market.balanceOf(customer) + market.balanceOf(mediator);
        for (uint256 i; i < 3; ++i) sum += market.balanceOf(suppliers[i]);
    }

    /// @dev What the market must hold for one allocation, from its terms and record.
    function escrow(uint256 k) public view returns (uint256) {
        ISurplusMarket.Allocation memory a = _deals[k].a;
        (ISurplusMarket.State state,, uint16 signed, bool customerSigned, bool mediatorSigned,,) =
            market.recordOf(_deals[k].id);
        uint256 inputPrice = uint256(a.miPerInput) * a.pricePerMi;
        uint256 payment = uint256(a.inputsPerSecond) * (a.end - a.start) * inputPrice;
        uint256 dep = market.penaltyRate() * inputPrice;
        uint256 n = _popcount(signed);
        if (state == ISurplusMarket.State.Signing) {
            uint256 c = customerSigned
                ? a.suppliers.length * payment + dep + market.mediatorFee() + market.allocatorFee()
                : 0;
            uint256 bond = mediatorSigned ? a.suppliers.length * (payment + dep) : 0;
            return c + bond + n * (dep + market.allocatorFee());
        }
        if (state == ISurplusMarket.State.Running || state == ISurplusMarket.State.MediationRequested) {
            // Suppliers' P + D each, the Customer's D + M, the Mediator's bond (P + D) per Supplier.
            return 2 * n * (payment + dep) + dep + market.mediatorFee();
        }
        return 0;
    }

    function totalEscrow() public view returns (uint256 sum) {
        for (uint256 k; k < _deals.length; ++k) sum += escrow(k);
    }

    // ------------------------------------------------------------ actions

    function open(uint256 seed) external {
        uint8 r = uint8(1 + seed % 3);
        uint32 ips = uint32(1 + (seed >> 8) % 10);
        uint64 duration = uint64(10 + (seed >> 16) % 190);
        uint256 inputs = uint256(ips) * duration;
        Deal storage d = _deals.push();
        ISurplusMarket.Allocation storage a = d.a;
        a.allocator = allocator;
        a.customer = customer;
        a.mediator = mediator;
        for (uint256 i; i < r; ++i) {
            a.suppliers.push(suppliers[i]);
            a.supplierOffers.push(keccak256(abi.encode(seed, i)));
        }
        a.customerOffer = keccak256(abi.encode("offer", seed));
        a.serviceHash = keccak256("service");
        a.start = uint64(block.timestamp + 5 + (seed >> 96) % 3);
        a.end = a.start + duration;
        a.pricePerMi = 1 + (seed >> 24) % 1e9;
        a.miPerInput = uint64(1 + (seed >> 56) % 1000);
        a.inputsPerSecond = ips;
        a.testCount = uint32((inputs + 999) / 1000);
        a.minReplicas = uint8(1 + (seed >> 72) % r);
        a.nonce = uint64(_deals.length);
        d.id = market.allocationId(a);
        d.gammaC = keccak256(abi.encode("gamma", seed));
        // One Supplier in three skipped a test input (and may seal the right γ late).
        for (uint256 i; i < r; ++i) {
            if ((seed >> (100 + 2 * i)) % 3 == 1) d.lazy |= uint16(1 << i);
        }

        uint256 k = _deals.length - 1;
        _checked(k, address(0), abi.encodeCall(market.open, (a, _signatures(k, seed >> 80, true))), allocator);
    }

    function sign(uint256 k, uint256 seed) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        _checked(k, address(0), abi.encodeCall(market.sign, (_deals[k].a, _signatures(k, seed, false))), outsider);
    }

    /// @dev The Customer's settle: mostly honest (the right γ, disputing exactly the lazy Suppliers,
    /// every result it received); sometimes a wrong γ, a random dispute, or omitted results.
    function settle(uint256 k, uint256 seed, bool warpToEnd) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        if (warpToEnd && block.timestamp < d.a.end) VM.warp(d.a.end);
        bytes32 gammaC = seed % 17 == 0 ? bytes32(seed) : d.gammaC; // sometimes a wrong γ
        (,, uint16 running,,,,) = market.recordOf(d.id);
        uint16 mask = seed % 5 == 0 ? uint16(seed >> 200) & running : d.lazy & running;
        ISurplusMarket.Result[] memory res = _results(k, seed >> 8, d.gammaC);
        if (seed % 7 == 0) res[(seed >> 40) % res.length] = ISurplusMarket.Result(bytes32(0), ""); // omitted
        (ISurplusMarket.State before,,,,,,) = market.recordOf(d.id);
        // Recorded before the call: a settle that closes at once is checked inside `_checked`.
        if (before == ISurplusMarket.State.Running) d.disputed = mask;
        _checked(k, address(0), _settleCall(d.a, gammaC, res, mask), customer);
        (ISurplusMarket.State afterState,,,,,,) = market.recordOf(d.id);
        if (before == ISurplusMarket.State.Running && afterState == before) d.disputed = 0; // it failed
    }

    /// @dev A Supplier (lazy: it read the checklist and sealed γ late) or the outsider settles, alone
    /// or racing the Customer: it must always fail; then the Customer settles honestly.
    function settleByOther(uint256 k, uint256 seed) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        if (block.timestamp < d.a.end) VM.warp(d.a.end);
        address caller = seed % 4 == 3 ? outsider : d.a.suppliers[seed % d.a.suppliers.length];
        ISurplusMarket.Result[] memory res = _results(k, seed >> 8, d.gammaC);
        uint16 none = 0;
        VM.prank(caller);
        (bool ok,) = address(market).call(_settleCall(d.a, d.gammaC, res, none));
        calls++;
        if (ok) violations++;
        if (seed % 2 == 0) this.settle(k, seed >> 16, false);
    }

    function mediate(uint256 k, uint256 seed, uint16) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        // The Mediator is honest when it acts (the true γ, the truly lazy); silence is `expire`.
        (,,,,,, uint16 mediating) = market.recordOf(d.id);
        _checked(
            k,
            address(0),
            abi.encodeCall(market.mediate, (d.a, d.gammaC, d.lazy & mediating, _results(k, seed >> 8, d.gammaC))),
            mediator
        );
    }

    /// @dev The hostile token's market: deposits are credited what arrived; withdrawals must never
    /// fail for lack of tokens (checked by the solvency invariant).
    function depositFee(uint8 who, uint96 amount) external {
        address p = _party(who);
        uint256 before = feeToken.balanceOf(address(feeMarket));
        uint256 credit = feeMarket.balanceOf(p);
        VM.prank(p);
        (bool ok,) = address(feeMarket).call(abi.encodeCall(feeMarket.deposit, (amount)));
        calls++;
        if (ok && feeMarket.balanceOf(p) - credit != feeToken.balanceOf(address(feeMarket)) - before) violations++;
    }

    function withdrawFee(uint8 who, uint256 amount) external {
        address p = _party(who);
        uint256 free = feeMarket.balanceOf(p);
        amount = free == 0 ? 0 : amount % (free + 1);
        VM.prank(p);
        (bool ok,) = address(feeMarket).call(abi.encodeCall(feeMarket.withdraw, (amount)));
        calls++;
        if (amount != 0 && !ok) violations++; // a credited balance can always be withdrawn
    }

    function feeOwed() public view returns (uint256 sum) {
        for (uint8 i; i < 6; ++i) sum += feeMarket.balanceOf(_party(i));
    }

    function expire(uint256 k, uint256 jump) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        VM.warp(block.timestamp + jump % 8_000);
        _checked(k, address(0), abi.encodeCall(market.expire, (_deals[k].a)), outsider);
    }

    /// @dev Role-restricted calls by an account that holds no role must always fail.
    function outsiderActs(uint256 k, uint8 which) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        bytes memory data = which % 3 == 0
            ? abi.encodeCall(market.open, (d.a, _signatures(k, type(uint256).max, true)))
            : which % 3 == 1
                ? _settleCall(d.a, d.gammaC, _results(k, 0, d.gammaC), 1)
                : abi.encodeCall(market.mediate, (d.a, d.gammaC, 0, _results(k, 0, d.gammaC)));
        VM.prank(outsider);
        (bool ok,) = address(market).call(data);
        calls++;
        if (ok) violations++;
    }

    function deposit(uint8 who, uint96 amount) external {
        address p = _party(who);
        uint256 before = token.balanceOf(address(market));
        VM.prank(p);
        (bool ok,) = address(market).call(abi.encodeCall(market.deposit, (amount)));
        calls++;
        if (ok && token.balanceOf(address(market)) != before + amount) violations++;
    }

    function withdraw(uint8 who, uint256 amount) external {
        address p = _party(who);
        uint256 free = market.balanceOf(p);
        amount = free == 0 ? 0 : amount % (free + 1);
        uint256 before = token.balanceOf(p);
        VM.prank(p);
        (bool ok,) = address(market).call(abi.encodeCall(market.withdraw, (amount)));
        calls++;
        if (ok && (token.balanceOf(p) != before + amount || market.balanceOf(p) != free - amount)) violations++;
    }

    function warp(uint16 dt) external {
        VM.warp(block.timestamp + dt);
    }

    // ------------------------------------------------------------ helpers

    /// @dev Calls the market as `sender` and checks that the call moved money only between
    /// allocation `k`'s escrow and free balances, and that a Closed allocation never pays again.
    function _checked(uint256 k, address, bytes memory data, address sender) internal {
        bytes32 id = _deals[k].id;
        (ISurplusMarket.State before,,,,,,) = market.recordOf(id);
        uint256[4] memory paidBefore = _partyBalances(k);
        uint256 owedBefore = owed();
        uint256 escrowBefore = escrow(k);
        uint256 othersBefore = totalEscrow() - escrowBefore;
        VM.prank(sender);
        (bool ok,) = address(market).call(data);
        calls++;
        if (!ok) return;
        (ISurplusMarket.State afterState,,,,,,) = market.recordOf(id);
        uint256 escrowAfter = escrow(k);
        // Per allocation: what left its escrow arrived in free balances, to the wei, and back.
        if (owed() + escrowAfter != owedBefore + escrowBefore) violations++;
        if (totalEscrow() - escrowAfter != othersBefore) violations++;
        if (afterState == ISurplusMarket.State.Closed && before != ISurplusMarket.State.Closed) {
            closes[id]++;
            if (before == ISurplusMarket.State.Running || before == ISurplusMarket.State.MediationRequested) {
                _checkPayouts(k, paidBefore, before == ISurplusMarket.State.MediationRequested && sender != mediator);
            }
        }
        if (before == ISurplusMarket.State.Closed) violations++; // nothing succeeds on a Closed allocation
        if (closes[id] > 1) violations++;
        if (market.balanceOf(outsider) != 0) violations++; // funds only go to named parties
    }

    /// @dev Free balances of allocation k's Suppliers (0..2) and Customer (3).
    function _partyBalances(uint256 k) internal view returns (uint256[4] memory out) {
        address[] memory ss = _deals[k].a.suppliers;
        for (uint256 i; i < ss.length; ++i) out[i] = market.balanceOf(ss[i]);
        out[3] = market.balanceOf(customer);
    }

    /// @dev The issue's two money invariants, when allocation k closes after running.
    function _checkPayouts(uint256 k, uint256[4] memory before, bool mediatorTimedOut) internal {
        Deal storage d = _deals[k];
        closedRunning++;
        (,, uint16 running,,,,) = market.recordOf(d.id);
        uint256 inputPrice = uint256(d.a.miPerInput) * d.a.pricePerMi;
        uint256 payment = uint256(d.a.inputsPerSecond) * (d.a.end - d.a.start) * inputPrice;
        uint256 dep = market.penaltyRate() * inputPrice;
        uint256[4] memory now_ = _partyBalances(k);
        for (uint256 i; i < d.a.suppliers.length; ++i) {
            uint16 bit = uint16(1 << i);
            if (running & bit == 0) continue;
            uint256 paid = now_[i] - before[i];
            // Honest (every live output right, its result signed): P + D back, a gain of P − F.
            if (d.lazy & bit == 0 && paid < payment + dep) honestShortfalls++;
            // Lazy and disputed: never P out of the Customer's escrow. Judged: nothing at all; with a
            // silent Mediator its bond pays, and the Customer gets that P back.
            if (d.lazy & d.disputed & bit != 0) {
                if (!mediatorTimedOut && paid >= payment) lazyPaid++;
                if (mediatorTimedOut && now_[3] - before[3] < dep + market.mediatorFee() + payment) lazyPaid++;
            }
        }
    }

    function _settleCall(ISurplusMarket.Allocation memory a, bytes32 gammaC, ISurplusMarket.Result[] memory res, uint16 mask)
        internal
        view
        returns (bytes memory)
    {
        bytes32 id = market.allocationId(a);
        return abi.encodeCall(market.settle, (a, _salt(id), _seqsHash(id), gammaC, res, mask));
    }

    function _salt(bytes32 id) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", id));
    }

    function _seqsHash(bytes32 id) internal pure returns (bytes32) {
        return keccak256(abi.encode("seqs", id));
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", market.domainSeparator(), structHash));
    }

    function _sig(uint256 key, bytes32 structHash) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, _digest(structHash));
        return abi.encodePacked(r, s, v);
    }

    function _accept(uint256 key, bytes32 id, bytes32 commitment) internal returns (bytes memory) {
        return _sig(key, keccak256(abi.encode(market.ACCEPT_TYPEHASH(), id, commitment)));
    }

    /// @dev Accept signatures of a random subset of the parties (bit 0 Customer, 1 Mediator, 2+ Suppliers).
    function _signatures(uint256 k, uint256 seed, bool mostly)
        internal
        returns (ISurplusMarket.Signatures memory sigs)
    {
        Deal storage d = _deals[k];
        uint256 r = d.a.suppliers.length;
        // When `mostly`, everybody signs three times out of four.
        uint256 who = mostly && seed % 4 != 0 ? type(uint256).max : seed >> 2;
        bytes32 commitment = keccak256(abi.encode(d.id, _salt(d.id), _seqsHash(d.id)));
        if (who & 1 != 0) {
            sigs.customer = _accept(CUSTOMER_KEY, d.id, commitment);
            sigs.commitment = commitment;
        }
        if (who & 2 != 0) sigs.mediator = _accept(MEDIATOR_KEY, d.id, bytes32(0));
        sigs.suppliers = new bytes[](r);
        for (uint256 i; i < r; ++i) {
            if ((who >> (2 + i)) & 1 != 0) sigs.suppliers[i] = _accept(supplierKeys[i], d.id, bytes32(0));
        }
    }

    /// @dev Results: per Supplier honest (seals `gamma`), wrong, or missing, from the seed.
    function _results(uint256 k, uint256 seed, bytes32 gamma)
        internal
        returns (ISurplusMarket.Result[] memory res)
    {
        Deal storage d = _deals[k];
        uint256 r = d.a.suppliers.length;
        res = new ISurplusMarket.Result[](r);
        for (uint256 i; i < r; ++i) {
            uint256 kind = (seed >> (4 * i)) % 8; // 0 missing, 1 wrong, else the right seal
            // Honest Suppliers always sign the right seal (the invariants' premise); lazy ones vary,
            // and sealing the right γ late is their front-running strategy.
            if (d.lazy & (1 << i) == 0) kind = 2;
            if (kind == 0) continue;
            bytes32 g = kind == 1 ? keccak256(abi.encode(seed, i)) : gamma;
            bytes32 seal = keccak256(abi.encode(d.a.suppliers[i], d.id, g));
            res[i] = ISurplusMarket.Result(
                seal, _sig(supplierKeys[i], keccak256(abi.encode(market.SUPPLIER_RESULT_TYPEHASH(), d.id, seal)))
            );
        }
    }

    function _party(uint8 who) internal view returns (address) {
        uint8 p = who % 6;
        if (p == 0) return allocator;
        if (p == 1) return customer;
        if (p == 2) return mediator;
        return suppliers[p - 3];
    }

    function _popcount(uint16 mask) internal pure returns (uint256 count) {
        for (; mask != 0; ++count) mask &= mask - 1;
    }
}
